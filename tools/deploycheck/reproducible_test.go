package deploycheck

import (
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"debug/elf"
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReproducibleBuild builds cmd/fortress twice, the way the Dockerfile does, from two copies of the
// source at different paths, each with an empty build cache, and requires byte-identical binaries: a
// rebuild of a commit can then be compared with what was shipped. The VCS stamp is off here because the
// copy has no .git; with it on, the stamp holds only the commit's values and changes nothing else.
func TestReproducibleBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary twice from an empty cache (about a minute and a half on 2 cores)")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command on PATH: %v", err)
	}
	root := repoRoot(t)
	tmp := t.TempDir()
	// One snapshot of the working tree, then a copy of the snapshot: both builds see the same bytes even
	// while someone edits the tree, and they sit at different paths of different depths.
	here := filepath.Join(tmp, "a")
	elsewhere := filepath.Join(tmp, "b", "elsewhere", "checkout")
	copyModule(t, root, here)
	copyModule(t, here, elsewhere)

	first := buildFortress(t, goBin, here, filepath.Join(tmp, "out1", "fortress"), filepath.Join(tmp, "cache1"))
	second := buildFortress(t, goBin, elsewhere, filepath.Join(tmp, "out2", "fortress"), filepath.Join(tmp, "cache2"))

	sum1, sum2 := sha256File(t, first), sha256File(t, second)
	if sum1 != sum2 {
		t.Fatalf("two builds of the same source differ: got sha256 %s (in %s) and %s (in %s), want equal", sum1, here, sum2, elsewhere)
	}
	t.Logf("both builds: sha256 %s", sum1)

	bin := readFileIn(t, filepath.Dir(first), filepath.Base(first))
	for _, dir := range []string{root, here, elsewhere, tmp} {
		if bytes.Contains(bin, []byte(dir)) {
			t.Errorf("the binary contains the build path %s; -trimpath should have removed it", dir)
		}
	}
	info, err := buildinfo.ReadFile(first)
	if err != nil {
		t.Fatalf("read build info: %v", err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	// -ldflags is not recorded under -trimpath (it may hold paths); the ELF sections show -s -w instead.
	for k, want := range map[string]string{"CGO_ENABLED": "0", "-trimpath": "true"} {
		if got := settings[k]; got != want {
			t.Errorf("build setting %s: got %q, want %q", k, got, want)
		}
	}
	if info.Main.Path != "github.com/fortress-dev/fortress" {
		t.Errorf("main module: got %q, want github.com/fortress-dev/fortress", info.Main.Path)
	}
	if f, err := elf.Open(first); err == nil {
		defer f.Close()
		for _, name := range []string{".symtab", ".debug_info"} {
			if f.Section(name) != nil {
				t.Errorf("the binary has a %s section; -ldflags='-s -w' should have stripped it", name)
			}
		}
	}
}

// buildFortress runs the release build of cmd/fortress in dir with its own, empty GOCACHE and returns
// the binary's path. The environment is pinned so that the caller's GOFLAGS cannot change the result.
func buildFortress(t *testing.T, goBin, dir, out, cache string) string {
	t.Helper()
	cmd := exec.Command(goBin, "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w", "-o", out, "./cmd/fortress")
	cmd.Dir = dir
	env := []string{"CGO_ENABLED=0", "GOFLAGS=-mod=readonly", "GOTOOLCHAIN=local", "GOCACHE=" + cache}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "CGO_ENABLED", "GOFLAGS", "GOTOOLCHAIN", "GOCACHE", "GOOS", "GOARCH", "GOAMD64", "GOEXPERIMENT", "PWD":
			continue
		}
		env = append(env, kv)
	}
	cmd.Env = env
	if output, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build in %s: %v\n%s", dir, err, output)
	}
	return out
}

// copyModule copies the main module's source to dst, leaving out what is not source: history, this
// tools module, build output, databases and local secrets. Both trees are accessed through os.Root, so
// nothing outside them is read or written.
func copyModule(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o750); err != nil {
		t.Fatal(err)
	}
	from, err := os.OpenRoot(src)
	if err != nil {
		t.Fatal(err)
	}
	defer from.Close()
	to, err := os.OpenRoot(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer to.Close()
	skipDirs := map[string]bool{".git": true, "tools": true, "bin": true, "dist": true, "node_modules": true, "secrets": true, ".terraform": true}
	err = fs.WalkDir(from.FS(), ".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		switch {
		case d.IsDir() && skipDirs[name] && rel != ".":
			return fs.SkipDir
		case d.IsDir():
			return to.MkdirAll(rel, 0o750)
		case !d.Type().IsRegular() || strings.HasPrefix(name, "coverage.") || strings.Contains(name, ".db") || strings.HasSuffix(name, ".test"):
			return nil
		}
		data, err := from.ReadFile(rel)
		if err != nil {
			return err
		}
		return to.WriteFile(rel, data, 0o600)
	})
	if err != nil {
		t.Fatalf("copy the module: %v", err)
	}
}

func sha256File(t *testing.T, name string) string {
	t.Helper()
	sum := sha256.Sum256(readFileIn(t, filepath.Dir(name), filepath.Base(name)))
	return hex.EncodeToString(sum[:])
}
