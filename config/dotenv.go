package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// WithDotEnv layers a .env file under getenv, so that local development can keep its settings in a file
// while the real environment (a container, a CI job) still wins: the returned function gives getenv's
// value when it is non-empty and the file's otherwise.
//
// The file holds KEY=VALUE lines, blank lines and '#' comments; a line may start with "export ". A value
// may be single-quoted (taken literally) or double-quoted (with the escapes \n \r \t \" \\); an unquoted
// value ends at a '#' preceded by whitespace. Variables are not expanded. A missing file is not an error:
// getenv is returned unchanged. A malformed line is an error naming the file and the line number but not
// the line, which may hold a secret.
func WithDotEnv(getenv func(string) string, path string) (func(string) string, error) {
	if getenv == nil {
		getenv = emptyEnv
	}
	data, err := os.ReadFile(path) //nolint:gosec // G304: the .env file the operator points at
	if errors.Is(err, fs.ErrNotExist) {
		return getenv, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: cannot read the file: %w", path, pathReason(err))
	}
	vars, err := parseDotEnv(string(data))
	if err != nil {
		return nil, fmt.Errorf("%s:%w", path, err)
	}
	return func(name string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return vars[name]
	}, nil
}

// parseDotEnv returns the file's variables; a later assignment of a name replaces an earlier one. Its
// errors read "LINE: reason" and never quote the line.
func parseDotEnv(data string) (map[string]string, error) {
	data = strings.TrimPrefix(data, "\uFEFF") // editors on Windows may start the file with a BOM
	vars := make(map[string]string)
	for i, line := range strings.Split(data, "\n") {
		key, value, reason := parseDotEnvLine(strings.TrimSuffix(line, "\r"))
		if reason != "" {
			return nil, fmt.Errorf("%d: malformed line: %s", i+1, reason)
		}
		if key != "" {
			vars[key] = value
		}
	}
	return vars, nil
}

// parseDotEnvLine returns an empty key for blank and comment lines, and a reason when the line is
// malformed. The reason is fixed text: it must not echo the line.
func parseDotEnvLine(line string) (key, value, reason string) {
	line = strings.TrimLeft(line, " \t")
	if line == "" || line[0] == '#' {
		return "", "", ""
	}
	if rest, ok := strings.CutPrefix(line, "export"); ok && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
		line = strings.TrimLeft(rest, " \t")
	}
	key, value, ok := strings.Cut(line, "=")
	if !ok {
		return "", "", "expected KEY=VALUE"
	}
	key = strings.TrimRight(key, " \t")
	if !validVarName(key) {
		return "", "", "the name must be letters, digits and '_', not starting with a digit"
	}
	if trimmed := strings.TrimLeft(value, " \t"); len(trimmed) < len(value) && strings.HasPrefix(trimmed, "#") {
		return key, "", "" // KEY= # comment
	}
	value = strings.TrimLeft(value, " \t")
	var rest string
	switch {
	case strings.HasPrefix(value, `"`):
		value, rest, reason = unquoteDouble(value[1:])
	case strings.HasPrefix(value, "'"):
		end := strings.IndexByte(value[1:], '\'')
		if end < 0 {
			return "", "", "unterminated single-quoted value"
		}
		value, rest = value[1:1+end], value[2+end:]
	default:
		if i := inlineComment(value); i >= 0 {
			value = value[:i]
		}
		return key, strings.TrimRight(value, " \t"), ""
	}
	if reason != "" {
		return "", "", reason
	}
	if rest = strings.TrimLeft(rest, " \t"); rest != "" && rest[0] != '#' {
		return "", "", "unexpected text after the closing quote"
	}
	return key, value, ""
}

// unquoteDouble reads a double-quoted value up to its closing quote and returns what follows it.
func unquoteDouble(s string) (value, rest, reason string) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], ""
		case '\\':
			i++
			if i == len(s) {
				return "", "", "unterminated double-quoted value"
			}
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case '"', '\\':
				b.WriteByte(s[i])
			default:
				return "", "", `unknown escape in a double-quoted value (use \n, \r, \t, \" or \\)`
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", "", "unterminated double-quoted value"
}

// inlineComment returns the index of a '#' that starts a comment: one preceded by a space or tab, so
// that values such as passwords and URL fragments may contain '#'.
func inlineComment(value string) int {
	for i := 1; i < len(value); i++ {
		if value[i] == '#' && (value[i-1] == ' ' || value[i-1] == '\t') {
			return i
		}
	}
	return -1
}

func validVarName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, r := range s {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}
