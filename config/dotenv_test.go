package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDotEnvParsing(t *testing.T) {
	tests := []struct {
		name string
		file string
		want map[string]string
	}{
		{"plain", "A=1\nB=two words\n", map[string]string{"A": "1", "B": "two words"}},
		{"comments and blanks", "# comment\n\n   # indented comment\nA=1\n\t\n", map[string]string{"A": "1"}},
		{"export prefix", "export A=1\nexport\tB=2\nexport=3\n", map[string]string{"A": "1", "B": "2", "export": "3"}},
		{"spaces around =", "  A =  1  \n", map[string]string{"A": "1"}},
		{"empty value", "A=\nB=\"\"\nC=''\n", map[string]string{"A": "", "B": "", "C": ""}},
		{"inline comment", "A=1 # one\nB=x\t# tab\nC=pa#ss\nD= # only a comment\n", map[string]string{"A": "1", "B": "x", "C": "pa#ss", "D": ""}},
		{"value with =", "URL=postgres://u:p@h/db?sslmode=require&x=1\n", map[string]string{"URL": "postgres://u:p@h/db?sslmode=require&x=1"}},
		{"json list unquoted", `ALLOWED_HOSTS=["localhost","127.0.0.1"]`, map[string]string{"ALLOWED_HOSTS": `["localhost","127.0.0.1"]`}},
		{"single quotes literal", `A='a \n "b" # c'  # comment`, map[string]string{"A": `a \n "b" # c`}},
		{"double quote escapes", `A="line1\nline2\t\"q\" \\ \r # not a comment" # comment`, map[string]string{"A": "line1\nline2\t\"q\" \\ \r # not a comment"}},
		{"double quotes keep spaces", `A="  padded  "`, map[string]string{"A": "  padded  "}},
		{"no variable expansion", "A=1\nB=$A ${A}\nC=\"$A\"\n", map[string]string{"A": "1", "B": "$A ${A}", "C": "$A"}},
		{"crlf line endings", "A=1\r\nB=\"two\"\r\nC='three'\r\n# c\r\n\r\n", map[string]string{"A": "1", "B": "two", "C": "three"}},
		{"byte order mark", "\uFEFFA=1\n", map[string]string{"A": "1"}},
		{"no final newline", "A=1", map[string]string{"A": "1"}},
		{"later wins", "A=1\nA=2\n", map[string]string{"A": "2"}},
		{"lower case and underscore names", "_a_1=x\n", map[string]string{"_a_1": "x"}},
		{"utf-8 value", "A=héllo wörld\n", map[string]string{"A": "héllo wörld"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseDotEnv(tt.file)
			if err != nil {
				t.Fatalf("parseDotEnv: got error %v, want none", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseDotEnv: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDotEnvMalformed(t *testing.T) {
	const secret = "s3cr3t-value-in-the-line"
	tests := []struct {
		name   string
		file   string
		line   int
		reason string
	}{
		{"no equals", "A=1\n" + secret + "\n", 2, "expected KEY=VALUE"},
		{"export without equals", "export " + secret, 1, "expected KEY=VALUE"},
		{"name with dash", "MY-KEY=" + secret, 1, "the name must be letters, digits and '_', not starting with a digit"},
		{"name starts with digit", "1KEY=" + secret, 1, "the name must be letters, digits and '_', not starting with a digit"},
		{"empty name", "=" + secret, 1, "the name must be letters, digits and '_', not starting with a digit"},
		{"name with space", "MY KEY=" + secret, 1, "the name must be letters, digits and '_', not starting with a digit"},
		{"unterminated double", "A=1\r\n\r\nB=\"" + secret + "\r\n", 3, "unterminated double-quoted value"},
		{"double ends in backslash", `B="` + secret + `\`, 1, "unterminated double-quoted value"},
		{"unterminated single", "B='" + secret, 1, "unterminated single-quoted value"},
		{"text after double", `B="x"` + secret, 1, "unexpected text after the closing quote"},
		{"text after single", `B='x' ` + secret, 1, "unexpected text after the closing quote"},
		{"unknown escape", `B="` + secret + `\q"`, 1, `unknown escape in a double-quoted value (use \n, \r, \t, \" or \\)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := writeFile(t, tt.file)
			getenv, err := WithDotEnv(env(nil), p)
			if err == nil {
				t.Fatalf("WithDotEnv: got no error, want one")
			}
			if getenv != nil {
				t.Errorf("WithDotEnv: got a getenv alongside the error, want nil")
			}
			want := p + ":" + strconv.Itoa(tt.line) + ": malformed line: " + tt.reason
			if got := err.Error(); got != want {
				t.Errorf("error:\n got %s\nwant %s", got, want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q contains the line's content", err)
			}
		})
	}
}

func TestWithDotEnv(t *testing.T) {
	p := writeFile(t, "A=from-file\nB=from-file\nC=from-file\n")
	realEnv := map[string]string{"A": "from-env", "B": ""}
	getenv, err := WithDotEnv(env(realEnv), p)
	if err != nil {
		t.Fatalf("WithDotEnv: got error %v, want none", err)
	}
	for name, want := range map[string]string{"A": "from-env", "B": "from-file", "C": "from-file", "D": ""} {
		if got := getenv(name); got != want {
			t.Errorf("getenv(%q): got %q, want %q", name, got, want)
		}
	}

	getenv, err = WithDotEnv(nil, p)
	if err != nil || getenv("A") != "from-file" {
		t.Errorf("WithDotEnv(nil getenv): got A=%q, %v; want the file's value, no error", getenv("A"), err)
	}
}

func TestWithDotEnvMissingFile(t *testing.T) {
	called := false
	base := func(name string) string { called = true; return "v-" + name }
	getenv, err := WithDotEnv(base, filepath.Join(t.TempDir(), "no-such.env"))
	if err != nil {
		t.Fatalf("WithDotEnv of a missing file: got error %v, want none", err)
	}
	if got := getenv("X"); got != "v-X" || !called {
		t.Errorf("getenv after a missing file: got %q (called %v), want the original getenv's value", got, called)
	}
}

func TestWithDotEnvUnreadable(t *testing.T) {
	dir := t.TempDir()
	_, err := WithDotEnv(env(nil), dir)
	if err == nil {
		t.Fatalf("WithDotEnv of a directory: got no error, want one")
	}
	if got, want := err.Error(), dir+": cannot read the file: is a directory"; got != want {
		t.Errorf("error: got %q, want %q", got, want)
	}
}

// TestEnvExample keeps .env.example honest: it parses, it documents every variable Load reads, its
// values load in development (with a warning for the placeholder key) and production refuses it.
func TestEnvExample(t *testing.T) {
	const path = "../.env.example"
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	getenv, err := WithDotEnv(env(nil), path)
	if err != nil {
		t.Fatalf("WithDotEnv(%s): %v", path, err)
	}

	asked := map[string]bool{}
	recording := func(name string) string { asked[name] = true; return getenv(name) }
	c, err := Load(recording)
	if err != nil {
		t.Fatalf("Load(.env.example): got error %q, want none", err)
	}
	for name := range asked {
		documented := regexp.MustCompile(`(?m)^#? ?` + name + `=`)
		if !documented.Match(content) {
			t.Errorf(".env.example: got no line for %s, want one (commented or set)", name)
		}
	}
	if len(asked) < 20 {
		t.Errorf("Load asked for %d variables, want at least 20 (is the recording wrapper used?)", len(asked))
	}

	if got := c.JWTSecret.Reveal(); got != PlaceholderJWTSecret {
		t.Errorf("JWT_SECRET_KEY in .env.example: got a different value, want PlaceholderJWTSecret")
	}
	if want := []string{"localhost", "127.0.0.1"}; !reflect.DeepEqual(c.AllowedHosts, want) {
		t.Errorf("ALLOWED_HOSTS in .env.example: got %q, want %q", c.AllowedHosts, want)
	}
	if want := []string{"http://localhost:8000", "http://127.0.0.1:8000"}; !reflect.DeepEqual(c.CORSOrigins, want) {
		t.Errorf("CORS_ORIGINS in .env.example: got %q, want %q", c.CORSOrigins, want)
	}
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "placeholder") {
		t.Errorf("Warnings: got %q, want one about the placeholder key", c.Warnings)
	}

	prod := func(name string) string {
		if name == "FORTRESS_ENV" {
			return "production"
		}
		return getenv(name)
	}
	if _, err := Load(prod); err == nil || !strings.HasPrefix(err.Error(), "JWT_SECRET_KEY: is the .env.example placeholder") {
		t.Errorf("Load(.env.example in production): got %v, want the placeholder refused", err)
	}
}
