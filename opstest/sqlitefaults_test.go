package opstest

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSQLiteReadOnly makes the database impossible to write in the three ways a deployment meets:
// the files turn read-only while the server runs (an immutable flag here; a file system remounted
// read-only after an error behaves the same for open files), the file is read-only when the server
// starts (a volume or a permission mistake), and the directory is. Reads keep working; writes get the
// contract's 503 problem; nothing is corrupted; every acknowledged write is there afterwards.
func TestSQLiteReadOnly(t *testing.T) {
	binary(t)
	t.Run("files immutable at run time", readOnlyAtRunTime)
	t.Run("read-only file at start", readOnlyFileAtStart)
	t.Run("read-only directory at start", readOnlyDirAtStart)
}

func readOnlyAtRunTime(t *testing.T) {
	chattr, err := exec.LookPath("chattr")
	if err != nil || os.Geteuid() != 0 {
		cannot(t, "chattr +i needs root and the chattr program (found: %v, euid %d)", err == nil, os.Geteuid())
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "fortress.db")
	p := startProc(t, "server", with(baseEnv(), "DATABASE_URL", "sqlite:"+path))
	a := newAPI(t, p.base())
	a.register("ro@example.com")
	token := a.login("ro@example.com")
	seed := a.createItem(token, "before")
	acked := map[int64]string{seed.ID: seed.Name}
	for i := range 20 {
		it := a.createItem(token, fmt.Sprint("before-", i))
		acked[it.ID] = it.Name
	}

	files := []string{path, path + "-wal", path + "-shm"}
	immutable := func(on bool) error {
		flag := "-i"
		if on {
			flag = "+i"
		}
		for _, f := range files {
			if out, err := exec.Command(chattr, flag, f).CombinedOutput(); err != nil {
				return fmt.Errorf("chattr %s %s: %v: %s", flag, f, err, out)
			}
		}
		return nil
	}
	if err := immutable(true); err != nil {
		cannot(t, "the file system of %s does not take the immutable flag: %v", dir, err)
	}
	t.Cleanup(func() { _ = immutable(false) }) // before TempDir's removal, which an immutable file would stop

	refused := a.do(request{method: "POST", path: "/items/", token: token, json: map[string]string{"name": "refused"}})
	checkUnavailable(t, refused)
	// In WAL mode even a read writes to the -shm index, so reads are refused too, with the same problem.
	read := a.do(request{method: "GET", path: fmt.Sprintf("/items/%d", seed.ID), token: token})
	if read.status != http.StatusOK {
		checkUnavailable(t, read)
	}
	login := a.do(loginRequest("ro@example.com")) // a login writes its session
	ready := a.do(request{method: "GET", path: "/readyz"})
	if !strings.Contains(strings.Join(p.lines(), "\n"), "disk I/O error") {
		t.Errorf("the log does not name the cause of the 503 (disk I/O error)")
	}

	if err := immutable(false); err != nil {
		t.Fatal(err)
	}
	cleared := time.Now()
	var recovered time.Duration
	for {
		ans := a.do(request{method: "POST", path: "/items/", token: token, json: map[string]string{"name": "after"}})
		if ans.status == http.StatusCreated {
			var it item
			a.expect(request{method: "GET", path: ans.header.Get("Location"), token: token}, http.StatusOK, &it)
			acked[it.ID] = it.Name
			recovered = time.Since(cleared)
			break
		}
		if time.Since(cleared) > 5*time.Second {
			t.Fatalf("writes still refused 5s after the files became writable: %s", ans)
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.checkItems(token, acked)
	p.terminate(t)
	integrityCheck(t, path)
	p.start(t)
	a.checkItems(token, acked)
	p.terminate(t)
	p.checkLog(t, `"msg":"audit event not stored"`) // the refused login's audit row: logged at ERROR, by design
	figure(t, "db, -wal and -shm made immutable while serving (as a read-only remount would): write answered %d (problem, Retry-After %q), read %d, login %d, /readyz %d; writes back %s after the flag was removed, no restart; integrity_check ok; %d acknowledged writes present",
		refused.status, refused.header.Get("Retry-After"), read.status, login.status, ready.status, recovered.Round(time.Millisecond), len(acked))
}

// unprivileged returns the credentials to run the server with when the tests run as root, for whom
// file permissions do not apply; nil when the tests already run as an ordinary user.
func unprivileged(t *testing.T) *syscall.Credential {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup("nobody")
	if err != nil {
		cannot(t, "running as root, and there is no user nobody to run the server as")
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

// handTo gives dir (and a way through its parent) to the account the server runs as.
func handTo(t *testing.T, cred *syscall.Credential, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil { //nolint:gosec // G302: a test directory the server's account must traverse
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o755); err != nil { //nolint:gosec // G302: idem
			t.Fatal(err)
		}
		if cred != nil {
			if err := os.Chown(dir, int(cred.Uid), int(cred.Gid)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// seededDatabase runs a server as cred on a new database in a directory of its own, creates an account
// and an item, and stops it; it returns the server (to start again), the database path, the token and
// the item.
func seededDatabase(t *testing.T, cred *syscall.Credential) (*proc, string, string, item) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "fortress.db")
	p := newProc(t, "server", with(baseEnv(), "DATABASE_URL", "sqlite:"+path, "FORTRESS_ACCESS_TOKEN_TTL", "1h"))
	p.cred = cred
	handTo(t, cred, dir, p.dir)
	p.start(t)
	a := newAPI(t, p.base())
	a.register("ro@example.com")
	token := a.login("ro@example.com")
	it := a.createItem(token, "written before")
	p.terminate(t)
	return p, path, token, it
}

func readOnlyFileAtStart(t *testing.T) {
	cred := unprivileged(t)
	p, path, token, it := seededDatabase(t, cred)
	if err := os.Chmod(path, 0o444); err != nil { //nolint:gosec // G302: read-only on purpose: the fault under test
		t.Fatal(err)
	}
	p.start(t)
	a := newAPI(t, p.base())
	a.expect(request{method: "GET", path: fmt.Sprintf("/items/%d", it.ID), token: token}, http.StatusOK, nil)
	refused := a.do(request{method: "POST", path: "/items/", token: token, json: map[string]string{"name": "refused"}})
	checkUnavailable(t, refused)
	login := a.do(loginRequest("ro@example.com"))
	if login.status != http.StatusServiceUnavailable {
		t.Errorf("login on a read-only database: got %s, want 503 (it writes a session)", login)
	}
	ready := a.do(request{method: "GET", path: "/readyz"})
	if !strings.Contains(strings.Join(p.lines(), "\n"), "readonly database") {
		t.Errorf("the log does not name the cause of the 503 (readonly database)")
	}
	p.terminate(t)
	p.checkLog(t, `"msg":"audit event not stored"`) // the login's audit row cannot be written either: logged at ERROR, by design
	integrityCheck(t, path)
	figure(t, "database file read-only (0444, server as an unprivileged user) at start: the server starts, reads 200, writes %d (problem), login %d, /readyz %d; integrity_check ok",
		refused.status, login.status, ready.status)
}

func readOnlyDirAtStart(t *testing.T) {
	cred := unprivileged(t)
	p, path, _, _ := seededDatabase(t, cred)
	dir := filepath.Dir(path)
	if err := os.Chmod(dir, 0o555); err != nil { //nolint:gosec // G302: read-only on purpose
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o755) }) //nolint:gosec // G302: writable again for TempDir's removal
	p.launch(t)
	err := p.wait(t, startBound)
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("serve on a read-only directory: exit %v, want status 1; log:\n%s", err, strings.Join(p.lines(), "\n"))
	}
	lines := p.lines()
	if len(lines) == 0 || !strings.Contains(lines[len(lines)-1], "readonly database") || strings.Contains(strings.Join(lines, "\n"), "panic") {
		t.Fatalf("serve on a read-only directory: last line %q, want one line naming the read-only database", tail(lines, 1))
	}
	integrityCheck(t, path)
	figure(t, "database directory read-only at start: the server refuses to start, exit status 1, last line %q; integrity_check ok", lines[len(lines)-1])
}

// TestSQLiteDiskFull fills the file system the database lives on (a small tmpfs) while the server writes:
// writes get the contract's 503 problem, reads keep working, writes resume by themselves when space is
// freed, nothing is corrupted and every acknowledged write is there.
func TestSQLiteDiskFull(t *testing.T) {
	binary(t)
	if os.Geteuid() != 0 {
		cannot(t, "mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", dir).CombinedOutput(); err != nil {
		cannot(t, "mount -t tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { // after the server's cleanup (registered later, so run earlier)
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	path := filepath.Join(dir, "fortress.db")
	p := startProc(t, "server", with(baseEnv(), "DATABASE_URL", "sqlite:"+path))
	a := newAPI(t, p.base())
	a.register("full@example.com")
	token := a.login("full@example.com")
	seed := a.createItem(token, "seed")
	acked := map[int64]string{seed.ID: seed.Name}

	// Leave about 256 KiB free, then write 8 KB items until the file system is full.
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * st.Bsize //nolint:gosec // G115: a 4 MiB file system
	filler := filepath.Join(dir, "filler")
	if err := os.WriteFile(filler, make([]byte, max(0, free-256<<10)), 0o600); err != nil {
		t.Fatal(err)
	}
	desc := strings.Repeat("d", 8000)
	var refused answer
	refusals := 0
	for i := 0; refusals < 3; i++ {
		if i == 500 {
			t.Fatalf("500 writes of 8 KB into 256 KiB were all accepted: the file system never filled")
		}
		ans := a.do(request{method: "POST", path: "/items/", token: token, json: map[string]string{"name": fmt.Sprint("fill-", i), "description": desc}})
		switch ans.status {
		case http.StatusCreated:
			var it item
			a.expect(request{method: "GET", path: ans.header.Get("Location"), token: token}, http.StatusOK, &it)
			acked[it.ID] = it.Name
		case http.StatusServiceUnavailable:
			refusals++
			refused = ans
		default:
			t.Fatalf("write %d into a filling disk: got %s, want 201 or 503", i, ans)
		}
	}
	checkUnavailable(t, refused)
	a.expect(request{method: "GET", path: fmt.Sprintf("/items/%d", seed.ID), token: token}, http.StatusOK, nil)
	ready := a.do(request{method: "GET", path: "/readyz"})
	if !strings.Contains(strings.Join(p.lines(), "\n"), "disk is full") {
		t.Errorf("the log does not name the cause of the 503 (disk is full)")
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed := time.Now()
	var recovered time.Duration
	for {
		ans := a.do(request{method: "POST", path: "/items/", token: token, json: map[string]string{"name": "after"}})
		if ans.status == http.StatusCreated {
			var it item
			a.expect(request{method: "GET", path: ans.header.Get("Location"), token: token}, http.StatusOK, &it)
			acked[it.ID] = it.Name
			recovered = time.Since(freed)
			break
		}
		if time.Since(freed) > 5*time.Second {
			t.Fatalf("writes still refused 5s after space was freed: %s", ans)
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.checkItems(token, acked)
	p.terminate(t)
	integrityCheck(t, path)
	p.start(t)
	a.checkItems(token, acked)
	p.terminate(t)
	p.checkLog(t)
	figure(t, "tmpfs of 4 MiB filled: %d writes of 8 KB acknowledged, then writes answered %d (problem, Retry-After %q), reads 200, /readyz %d; writes back %s after space was freed, no restart; integrity_check ok; all %d acknowledged writes present after a restart",
		len(acked)-1, refused.status, refused.header.Get("Retry-After"), ready.status, recovered.Round(time.Millisecond), len(acked))
}
