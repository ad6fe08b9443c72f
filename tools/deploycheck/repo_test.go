package deploycheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the Fortress repository this module lives in (two levels up), checked by its go.mod so
// that a moved module fails loudly instead of checking the wrong files.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if mod := readFileIn(t, root, "go.mod"); !strings.HasPrefix(string(mod), "module github.com/fortress-dev/fortress\n") {
		t.Fatalf("%s is not the Fortress repository root", root)
	}
	return root
}

// readFileIn reads name inside dir; os.Root keeps the name from escaping dir (no "..", no symlink out).
func readFileIn(t *testing.T, dir, name string) []byte {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data, err := r.ReadFile(name)
	if err != nil {
		t.Fatalf("read %s in %s: %v", name, dir, err)
	}
	return data
}

// writeFileIn writes name inside dir, which must exist.
func writeFileIn(t *testing.T, dir, name string, data []byte) {
	t.Helper()
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := r.WriteFile(name, data, 0o600); err != nil {
		t.Fatalf("write %s in %s: %v", name, dir, err)
	}
}

// wantNoProblems fails with every problem listed, one per line.
func wantNoProblems(t *testing.T, what string, problems []string) {
	t.Helper()
	if len(problems) > 0 {
		t.Errorf("%s: got %d problems, want none:\n  %s", what, len(problems), strings.Join(problems, "\n  "))
	}
}

// wantProblem fails unless one of the problems contains substr: it shows that a check bites.
func wantProblem(t *testing.T, problems []string, substr string) {
	t.Helper()
	for _, p := range problems {
		if strings.Contains(p, substr) {
			return
		}
	}
	t.Errorf("got problems %q, want one containing %q", problems, substr)
}
