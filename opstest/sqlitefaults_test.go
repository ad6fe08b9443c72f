package opstest

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fortress-dev/fortress/internal/binarytest"
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
	p, a, token, seed := sqliteServer(t, path, "ro@example.com", "before")
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
	recovered := writesResume(t, p, a, token, acked, path, "the files became writable")
	p.checkLog(t, `"msg":"audit event not stored"`) // the refused login's audit row: logged at ERROR, by design
	figure(t, "db, -wal and -shm made immutable while serving (as a read-only remount would): write answered %d (problem, Retry-After %q), read %d, login %d, /readyz %d; writes back %s after the flag was removed, no restart; integrity_check ok; %d acknowledged writes present",
		refused.status, refused.header.Get("Retry-After"), read.status, login.status, ready.status, recovered.Round(time.Millisecond), len(acked))
}

// unprivileged returns the account to run the server as when the tests run as root, for whom file
// permissions do not apply; nil when the tests already run as an ordinary user.
func unprivileged(t *testing.T) *binarytest.Account {
	if os.Geteuid() != 0 {
		return nil
	}
	acct, err := binarytest.LookupAccount("nobody")
	if err != nil {
		cannot(t, "running as root, and there is no user nobody to run the server as")
	}
	return acct
}

// handTo gives dir (and a way through its parent) to the account the server runs as.
func handTo(t *testing.T, acct *binarytest.Account, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil { //nolint:gosec // G302: a test directory the server's account must traverse
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o755); err != nil { //nolint:gosec // G302: idem
			t.Fatal(err)
		}
		if acct != nil {
			if err := os.Chown(dir, int(acct.UID), int(acct.GID)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// seededDatabase runs a server as acct on a new database in a directory of its own, creates an account
// and an item, and stops it; it returns the server (to start again), the database path, the token and
// the item.
func seededDatabase(t *testing.T, acct *binarytest.Account) (*proc, string, string, item) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "fortress.db")
	p := newProc(t, "server", with(baseEnv(), "DATABASE_URL", "sqlite:"+path, "FORTRESS_ACCESS_TOKEN_TTL", "1h"))
	p.acct = acct
	handTo(t, acct, dir, p.dir)
	p.start(t)
	a := newAPI(t, p.base())
	a.register("ro@example.com")
	token := a.login("ro@example.com")
	it := a.createItem(token, "written before")
	p.terminate(t)
	return p, path, token, it
}

func readOnlyFileAtStart(t *testing.T) {
	p, path, token, it := seededDatabase(t, unprivileged(t))
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
	p, path, _, _ := seededDatabase(t, unprivileged(t))
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
	p, a, token, seed := sqliteServer(t, path, "full@example.com", "seed")
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
			a.acknowledge(token, ans, acked)
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
	recovered := writesResume(t, p, a, token, acked, path, "space was freed")
	p.checkLog(t)
	figure(t, "tmpfs of 4 MiB filled: %d writes of 8 KB acknowledged, then writes answered %d (problem, Retry-After %q), reads 200, /readyz %d; writes back %s after space was freed, no restart; integrity_check ok; all %d acknowledged writes present after a restart",
		len(acked)-1, refused.status, refused.header.Get("Retry-After"), ready.status, recovered.Round(time.Millisecond), len(acked))
}

// writesResume writes an item until the server accepts one again, the cause of its refusals (cleared,
// said in a failure) being gone now; it fails the test when writes are still refused 5s later. Then every
// acknowledged write in acked must be there, before and after a restart, and the database must pass
// integrity_check in between. It returns how long the writes took to come back, without a restart.
func writesResume(t *testing.T, p *proc, a *api, token string, acked map[int64]string, path, cleared string) time.Duration {
	t.Helper()
	since := time.Now()
	var recovered time.Duration
	for {
		ans := a.do(request{method: "POST", path: "/items/", token: token, json: map[string]string{"name": "after"}})
		if ans.status == http.StatusCreated {
			a.acknowledge(token, ans, acked)
			recovered = time.Since(since)
			break
		}
		if time.Since(since) > 5*time.Second {
			t.Fatalf("writes still refused 5s after %s: %s", cleared, ans)
		}
		time.Sleep(20 * time.Millisecond)
	}
	a.checkItems(token, acked)
	p.terminate(t)
	integrityCheck(t, path)
	p.start(t)
	a.checkItems(token, acked)
	p.terminate(t)
	return recovered
}

// acknowledge reads back the item a 201 answer created and adds it to acked, the writes that must survive.
func (a *api) acknowledge(token string, created answer, acked map[int64]string) {
	a.t.Helper()
	var it item
	a.expect(request{method: "GET", path: created.header.Get("Location"), token: token}, http.StatusOK, &it)
	acked[it.ID] = it.Name
}

// sqliteServer starts a server on the SQLite file at path with one account, logged in, owning one item
// named first: where a fault test starts from.
func sqliteServer(t *testing.T, path, email, first string) (p *proc, a *api, token string, seed item) {
	t.Helper()
	p = startProc(t, "server", with(baseEnv(), "DATABASE_URL", "sqlite:"+path))
	a = newAPI(t, p.base())
	a.register(email)
	token = a.login(email)
	seed = a.createItem(token, first)
	return p, a, token, seed
}
