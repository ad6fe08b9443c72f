package password

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/argon2"
)

// fastParams keep tests quick; they are valid Argon2id parameters, only cheap.
var fastParams = Params{MemoryKiB: 64, Time: 1, Threads: 1}

func newTestHasher(t testing.TB, p Params) *Hasher {
	t.Helper()
	h, err := NewHasher(p)
	if err != nil {
		t.Fatalf("NewHasher(%+v): got error %v, want nil", p, err)
	}
	return h
}

// call records one use of the key derivation function.
type call struct {
	password string
	saltLen  int
	params   Params
	keyLen   uint32
}

// recorder wraps argon2.IDKey and remembers how it was called, so tests can see which parameters did the work.
type recorder struct {
	mu    sync.Mutex
	calls []call
}

func (r *recorder) idKey(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	r.mu.Lock()
	r.calls = append(r.calls, call{string(password), len(salt), Params{memory, time, threads}, keyLen})
	r.mu.Unlock()
	return argon2.IDKey(password, salt, time, memory, threads, keyLen)
}

func (r *recorder) reset() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

func newRecordingHasher(t *testing.T, p Params) (*Hasher, *recorder) {
	t.Helper()
	r := &recorder{}
	h, err := newHasher(p, r.idKey)
	if err != nil {
		t.Fatalf("newHasher(%+v): got error %v, want nil", p, err)
	}
	if calls := r.reset(); len(calls) != 0 {
		t.Fatalf("newHasher: got %d Argon2 calls, want none (start-up must not pay for a hash)", len(calls))
	}
	return h, r
}

// phcWith builds a valid PHC string with chosen salt and key lengths, which Hash never produces.
func phcWith(password string, p Params, saltLen, keyLen int) string {
	salt := make([]byte, saltLen)
	for i := range salt {
		salt[i] = byte(i)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(keyLen)) //nolint:gosec // G115: test lengths are at most 1024
	return encode(p, salt, key)
}

func TestDefaultParams(t *testing.T) {
	got := DefaultParams()
	want := Params{MemoryKiB: 19456, Time: 2, Threads: 1}
	if got != want {
		t.Fatalf("DefaultParams() = %+v, want %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Fatalf("DefaultParams().Validate() = %v, want nil", err)
	}
}

func TestParamsValidate(t *testing.T) {
	tests := []struct {
		name      string
		p         Params
		wantField string // "" means valid
	}{
		{"default", DefaultParams(), ""},
		{"smallest", Params{MemoryKiB: 8, Time: 1, Threads: 1}, ""},
		{"largest", Params{MemoryKiB: 4 * 1024 * 1024, Time: 100, Threads: 255}, ""},
		{"memory equals 8 per thread", Params{MemoryKiB: 32, Time: 1, Threads: 4}, ""},
		{"zero value", Params{}, "Threads"},
		{"zero threads", Params{MemoryKiB: 64, Time: 1, Threads: 0}, "Threads"},
		{"zero time", Params{MemoryKiB: 64, Time: 0, Threads: 1}, "Time"},
		{"time over 100", Params{MemoryKiB: 64, Time: 101, Threads: 1}, "Time"},
		{"zero memory", Params{MemoryKiB: 0, Time: 1, Threads: 1}, "MemoryKiB"},
		{"memory under 8 per thread", Params{MemoryKiB: 31, Time: 1, Threads: 4}, "MemoryKiB"},
		{"memory over 4 GiB", Params{MemoryKiB: 4*1024*1024 + 1, Time: 1, Threads: 1}, "MemoryKiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.p.Validate()
			if tt.wantField == "" {
				if err != nil {
					t.Fatalf("Validate(%+v) = %v, want nil", tt.p, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate(%+v) = nil, want an error naming %s", tt.p, tt.wantField)
			}
			if !strings.Contains(err.Error(), tt.wantField) {
				t.Fatalf("Validate(%+v) = %q, want it to name %s", tt.p, err, tt.wantField)
			}
			if _, err := NewHasher(tt.p); err == nil {
				t.Fatalf("NewHasher(%+v): got nil error, want one naming %s", tt.p, tt.wantField)
			}
		})
	}
}

func TestHasherParams(t *testing.T) {
	h := newTestHasher(t, fastParams)
	if got := h.Params(); got != fastParams {
		t.Fatalf("Params() = %+v, want %+v", got, fastParams)
	}
}

func TestHashFormat(t *testing.T) {
	h := newTestHasher(t, Params{MemoryKiB: 128, Time: 3, Threads: 2})
	encoded, err := h.Hash("correct horse battery staple")
	if err != nil {
		t.Fatalf("Hash: got error %v, want nil", err)
	}
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=128,t=3,p=2\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$`)
	m := re.FindStringSubmatch(encoded)
	if m == nil {
		t.Fatalf("Hash = %q, want it to match %s", encoded, re)
	}
	salt, err := base64.RawStdEncoding.DecodeString(m[1])
	if err != nil || len(salt) != 16 {
		t.Fatalf("salt: got %d bytes (err %v), want 16", len(salt), err)
	}
	key, err := base64.RawStdEncoding.DecodeString(m[2])
	if err != nil || len(key) != 32 {
		t.Fatalf("key: got %d bytes (err %v), want 32", len(key), err)
	}
	want := argon2.IDKey([]byte("correct horse battery staple"), salt, 3, 128, 2, 32)
	if !bytes.Equal(key, want) {
		t.Fatalf("key is not Argon2id of the password with the encoded parameters")
	}
}

func TestHashVerify(t *testing.T) {
	h := newTestHasher(t, fastParams)
	tests := []struct {
		name, password, attempt string
		wantOK                  bool
	}{
		{"ascii", "correct horse battery staple", "correct horse battery staple", true},
		{"empty", "", "", true},
		{"unicode", "pässwörd 🔐 日本語 пароль", "pässwörd 🔐 日本語 пароль", true},
		{"long", strings.Repeat("ab€", 1000), strings.Repeat("ab€", 1000), true},
		{"wrong password", "correct horse battery staple", "correct horse battery stapler", false},
		{"case differs", "Secret-Password-1", "secret-password-1", false},
		{"empty attempt", "correct horse battery staple", "", false},
		{"prefix", "correct horse battery staple", "correct horse", false},
		// No Unicode normalisation happens here: composed and decomposed forms are different passwords.
		{"nfc vs nfd", "caf\u00e9-password", "cafe\u0301-password", false},
		{"trailing NUL", "password-123456", "password-123456\x00", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			encoded, err := h.Hash(tt.password)
			if err != nil {
				t.Fatalf("Hash: got error %v, want nil", err)
			}
			ok, rehash, err := h.Verify(tt.attempt, encoded)
			if err != nil {
				t.Fatalf("Verify: got error %v, want nil", err)
			}
			if ok != tt.wantOK {
				t.Fatalf("Verify: got ok=%v, want %v", ok, tt.wantOK)
			}
			if rehash {
				t.Fatalf("Verify: got needsRehash=true, want false (same params)")
			}
		})
	}
}

func TestHashUsesFreshSalt(t *testing.T) {
	h := newTestHasher(t, fastParams)
	seen := map[string]bool{}
	for i := range 20 {
		encoded, err := h.Hash("same password every time")
		if err != nil {
			t.Fatalf("Hash #%d: got error %v, want nil", i, err)
		}
		salt := strings.Split(encoded, "$")[4]
		if seen[salt] {
			t.Fatalf("Hash #%d reused salt %q, want a fresh salt per hash", i, salt)
		}
		seen[salt] = true
		if ok, _, err := h.Verify("same password every time", encoded); !ok || err != nil {
			t.Fatalf("Verify #%d: got ok=%v err=%v, want ok=true err=nil", i, ok, err)
		}
	}
}

func TestVerifyMalformed(t *testing.T) {
	const (
		salt = "c2FsdHNhbHRzYWx0c2FsdA"                      // 16 bytes
		key  = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U" // 32 bytes
	)
	valid := "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key
	withParams := func(params string) string { return "$argon2id$v=19$" + params + "$" + salt + "$" + key }
	withSalt := func(s string) string { return "$argon2id$v=19$m=64,t=1,p=1$" + s + "$" + key }
	withKey := func(k string) string { return "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + k }
	b64 := func(n int) string { return base64.RawStdEncoding.EncodeToString(make([]byte, n)) }

	tests := []struct {
		name    string
		encoded string
		want    error
	}{
		{"empty", "", ErrMalformedHash},
		{"plain text", "hunter2hunter2", ErrMalformedHash},
		{"only dollar", "$", ErrUnsupportedHash},
		{"no leading dollar", strings.TrimPrefix(valid, "$"), ErrMalformedHash},
		{"bcrypt", "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", ErrUnsupportedHash},
		{"argon2i", strings.Replace(valid, "argon2id", "argon2i", 1), ErrUnsupportedHash},
		{"argon2d", strings.Replace(valid, "argon2id", "argon2d", 1), ErrUnsupportedHash},
		{"upper-case variant", strings.Replace(valid, "argon2id", "ARGON2ID", 1), ErrUnsupportedHash},
		{"missing version", "$argon2id$m=64,t=1,p=1$" + salt + "$" + key, ErrMalformedHash},
		{"version field misnamed", strings.Replace(valid, "v=19", "x=19", 1), ErrMalformedHash},
		{"version 16", strings.Replace(valid, "v=19", "v=16", 1), ErrUnsupportedHash},
		{"version leading zero", strings.Replace(valid, "v=19", "v=019", 1), ErrUnsupportedHash},
		{"version empty", strings.Replace(valid, "v=19", "v=", 1), ErrUnsupportedHash},
		{"version huge", strings.Replace(valid, "v=19", "v=99999999999999999999", 1), ErrUnsupportedHash},
		{"too few fields", "$argon2id$v=19$m=64,t=1,p=1$" + salt, ErrMalformedHash},
		{"extra field", valid + "$extra", ErrMalformedHash},
		{"trailing dollar", valid + "$", ErrMalformedHash},
		{"params missing", withParams(""), ErrMalformedHash},
		{"params missing p", withParams("m=64,t=1"), ErrMalformedHash},
		{"params reordered", withParams("t=1,m=64,p=1"), ErrMalformedHash},
		{"params extra keyid", withParams("m=64,t=1,p=1,keyid=abc"), ErrMalformedHash},
		{"params with spaces", withParams("m=64, t=1, p=1"), ErrMalformedHash},
		{"params no equals", withParams("m64,t=1,p=1"), ErrMalformedHash},
		{"m empty", withParams("m=,t=1,p=1"), ErrMalformedHash},
		{"m zero", withParams("m=0,t=1,p=1"), ErrMalformedHash},
		{"m below 8 per lane", withParams("m=15,t=1,p=2"), ErrMalformedHash},
		{"m over 4 GiB", withParams("m=4194305,t=1,p=1"), ErrMalformedHash},
		{"m over uint32", withParams("m=4294967296,t=1,p=1"), ErrMalformedHash},
		{"m leading zero", withParams("m=064,t=1,p=1"), ErrMalformedHash},
		{"m plus sign", withParams("m=+64,t=1,p=1"), ErrMalformedHash},
		{"m negative", withParams("m=-64,t=1,p=1"), ErrMalformedHash},
		{"m hex", withParams("m=0x40,t=1,p=1"), ErrMalformedHash},
		{"m underscore", withParams("m=6_4,t=1,p=1"), ErrMalformedHash},
		{"t zero", withParams("m=64,t=0,p=1"), ErrMalformedHash},
		{"t over 100", withParams("m=64,t=101,p=1"), ErrMalformedHash},
		{"t over uint32", withParams("m=64,t=99999999999,p=1"), ErrMalformedHash},
		{"p zero", withParams("m=64,t=1,p=0"), ErrMalformedHash},
		{"p over 255", withParams("m=4096,t=1,p=256"), ErrMalformedHash},
		{"salt empty", withSalt(""), ErrMalformedHash},
		{"salt 7 bytes", withSalt(b64(7)), ErrMalformedHash},
		{"salt 1025 bytes", withSalt(b64(1025)), ErrMalformedHash},
		{"salt padded", withSalt(salt + "=="), ErrMalformedHash},
		{"salt url alphabet", withSalt("c2FsdHNhbHRzYWx0c2F-_A"), ErrMalformedHash},
		{"salt bad char", withSalt("c2FsdHNhbHRzYWx0c2F*dA"), ErrMalformedHash},
		{"salt non-zero trailing bits", withSalt("c2FsdHNhbHRzYWx0c2FsdB"), ErrMalformedHash},
		{"salt with newline", withSalt("c2FsdHNh\nbHRzYWx0c2FsdA"), ErrMalformedHash},
		{"salt with CR", withSalt("c2FsdHNh\rbHRzYWx0c2FsdA"), ErrMalformedHash},
		{"salt impossible length", withSalt(salt + "AAA"), ErrMalformedHash},
		{"key empty", withKey(""), ErrMalformedHash},
		{"key 7 bytes", withKey(b64(7)), ErrMalformedHash},
		{"key 1025 bytes", withKey(b64(1025)), ErrMalformedHash},
		{"key padded", withKey(key + "="), ErrMalformedHash},
		{"key bad char", withKey(key[:len(key)-1] + "!"), ErrMalformedHash},
		{"whole string too long", valid + strings.Repeat("A", 5000), ErrMalformedHash},
		{"leading space", " " + valid, ErrMalformedHash},
		{"trailing newline", valid + "\n", ErrMalformedHash},
	}

	h, rec := newRecordingHasher(t, fastParams)
	// The valid baseline must pass, or every row below proves nothing.
	if _, _, err := h.Verify("x", valid); err != nil {
		t.Fatalf("Verify(baseline): got error %v, want nil", err)
	}
	rec.reset()

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec.reset()
			ok, rehash, err := h.Verify("password", tt.encoded)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify: got error %v, want one wrapping %v", err, tt.want)
			}
			if ok || rehash {
				t.Fatalf("Verify: got ok=%v needsRehash=%v, want false, false", ok, rehash)
			}
			if tt.encoded != "" && strings.Contains(err.Error(), tt.encoded) {
				t.Fatalf("Verify: error %q contains the stored hash, want it omitted", err)
			}
			for _, field := range strings.Split(tt.encoded, "$") {
				if len(field) >= 8 && strings.Contains(err.Error(), field) {
					t.Fatalf("Verify: error %q quotes part %q of the stored hash, want it omitted", err, field)
				}
			}
			if calls := rec.reset(); len(calls) != 0 {
				t.Fatalf("Verify: got %d Argon2 computations for a malformed hash, want 0", len(calls))
			}
		})
	}
}

func TestVerifyAcceptsBoundaryLengths(t *testing.T) {
	h := newTestHasher(t, fastParams)
	for _, n := range []struct{ salt, key int }{{8, 8}, {1024, 1024}, {8, 1024}, {1024, 8}} {
		t.Run(fmt.Sprintf("salt %d key %d", n.salt, n.key), func(t *testing.T) {
			encoded := phcWith("pw", fastParams, n.salt, n.key)
			ok, rehash, err := h.Verify("pw", encoded)
			if err != nil || !ok || !rehash {
				t.Fatalf("Verify: got ok=%v needsRehash=%v err=%v, want ok=true needsRehash=true err=nil", ok, rehash, err)
			}
		})
	}
}

func TestVerifyNeedsRehash(t *testing.T) {
	current := Params{MemoryKiB: 64, Time: 2, Threads: 2}
	h := newTestHasher(t, current)
	tests := []struct {
		name       string
		encoded    string
		attempt    string
		wantOK     bool
		wantRehash bool
	}{
		{"same params", phcWith("pw", current, 16, 32), "pw", true, false},
		{"memory changed", phcWith("pw", Params{MemoryKiB: 32, Time: 2, Threads: 2}, 16, 32), "pw", true, true},
		{"time changed", phcWith("pw", Params{MemoryKiB: 64, Time: 1, Threads: 2}, 16, 32), "pw", true, true},
		{"threads changed", phcWith("pw", Params{MemoryKiB: 64, Time: 2, Threads: 1}, 16, 32), "pw", true, true},
		{"stronger stored params", phcWith("pw", Params{MemoryKiB: 128, Time: 3, Threads: 2}, 16, 32), "pw", true, true},
		{"salt length changed", phcWith("pw", current, 12, 32), "pw", true, true},
		{"key length changed", phcWith("pw", current, 16, 16), "pw", true, true},
		{"old params, wrong password", phcWith("pw", Params{MemoryKiB: 32, Time: 1, Threads: 1}, 16, 32), "nope", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(tt.attempt, tt.encoded)
			if err != nil {
				t.Fatalf("Verify: got error %v, want nil", err)
			}
			if ok != tt.wantOK || rehash != tt.wantRehash {
				t.Fatalf("Verify: got ok=%v needsRehash=%v, want %v, %v", ok, rehash, tt.wantOK, tt.wantRehash)
			}
		})
	}

	// After a rehash with the new hasher the flag clears.
	old := newTestHasher(t, fastParams)
	encoded, err := old.Hash("pw")
	if err != nil {
		t.Fatalf("Hash: got error %v, want nil", err)
	}
	if ok, rehash, _ := h.Verify("pw", encoded); !ok || !rehash {
		t.Fatalf("Verify(old hash): got ok=%v needsRehash=%v, want true, true", ok, rehash)
	}
	fresh, err := h.Hash("pw")
	if err != nil {
		t.Fatalf("Hash: got error %v, want nil", err)
	}
	if ok, rehash, _ := h.Verify("pw", fresh); !ok || rehash {
		t.Fatalf("Verify(fresh hash): got ok=%v needsRehash=%v, want true, false", ok, rehash)
	}
}

func TestVerifyUsesStoredParams(t *testing.T) {
	h, rec := newRecordingHasher(t, fastParams)
	stored := Params{MemoryKiB: 96, Time: 3, Threads: 3}
	encoded := phcWith("pw", stored, 20, 24)
	if ok, _, err := h.Verify("pw", encoded); !ok || err != nil {
		t.Fatalf("Verify: got ok=%v err=%v, want true, nil", ok, err)
	}
	calls := rec.reset()
	want := call{password: "pw", saltLen: 20, params: stored, keyLen: 24}
	if len(calls) != 1 || calls[0] != want {
		t.Fatalf("Argon2 calls: got %+v, want exactly [%+v]", calls, want)
	}
}

func TestVerifyDummyComputesWithHasherParams(t *testing.T) {
	p := Params{MemoryKiB: 128, Time: 3, Threads: 2}
	h, rec := newRecordingHasher(t, p)

	h.VerifyDummy("unknown-user-password")
	dummy := rec.reset()

	// The work must be the same as a Verify of a wrong password against a real hash made by h.
	encoded, err := h.Hash("the real password")
	if err != nil {
		t.Fatalf("Hash: got error %v, want nil", err)
	}
	rec.reset()
	if ok, _, err := h.Verify("unknown-user-password", encoded); ok || err != nil {
		t.Fatalf("Verify(wrong password): got ok=%v err=%v, want false, nil", ok, err)
	}
	wrong := rec.reset()

	want := call{password: "unknown-user-password", saltLen: 16, params: p, keyLen: 32}
	if len(dummy) != 1 || dummy[0] != want {
		t.Fatalf("VerifyDummy Argon2 calls: got %+v, want exactly [%+v]", dummy, want)
	}
	if len(wrong) != 1 || wrong[0] != dummy[0] {
		t.Fatalf("Verify(wrong) Argon2 calls: got %+v, want the same as VerifyDummy's %+v", wrong, dummy)
	}
}

func TestVerifyDummyAllocatesArgon2Memory(t *testing.T) {
	p := DefaultParams()
	h := newTestHasher(t, p)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	h.VerifyDummy("unknown-user-password")
	runtime.ReadMemStats(&after)
	got := after.TotalAlloc - before.TotalAlloc
	want := uint64(p.MemoryKiB) * 1024
	if got < want {
		t.Fatalf("VerifyDummy allocated %d bytes, want at least %d (the Argon2id memory of h's params)", got, want)
	}
}

func TestHasherConcurrentUse(t *testing.T) {
	h := newTestHasher(t, fastParams)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			pw := fmt.Sprintf("password-%d", i)
			encoded, err := h.Hash(pw)
			if err != nil {
				errs <- err
				return
			}
			if ok, _, err := h.Verify(pw, encoded); !ok || err != nil {
				errs <- fmt.Errorf("Verify(%q): got ok=%v err=%v, want true, nil", pw, ok, err)
			}
			h.VerifyDummy(pw)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func FuzzVerify(f *testing.F) {
	h0 := newTestHasher(f, fastParams)
	good, err := h0.Hash("pw")
	if err != nil {
		f.Fatalf("Hash: got error %v, want nil", err)
	}
	for _, seed := range []string{
		good,
		"",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U",
		"$argon2id$v=19$m=4194304,t=100,p=255$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5",
		"$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5",
		"$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
		"$argon2id$v=19$m=64,t=1,p=1$$",
		"$$$$$",
	} {
		f.Add("pw", seed)
	}

	// Real Argon2id only for cheap parameters; otherwise just check that what reaches the KDF is in bounds, so
	// the fuzzer cannot spend minutes or gigabytes on one legitimately expensive input.
	idKey := func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
		p := Params{MemoryKiB: memory, Time: time, Threads: threads}
		if err := p.Validate(); err != nil {
			panic(fmt.Sprintf("KDF reached with invalid params %+v: %v", p, err))
		}
		if len(salt) < minSaltLen || len(salt) > maxSaltLen || keyLen < minKeyLen || keyLen > maxKeyLen {
			panic(fmt.Sprintf("KDF reached with salt %d bytes, key %d bytes", len(salt), keyLen))
		}
		if memory <= 1024 && time <= 4 {
			return argon2.IDKey(password, salt, time, memory, threads, keyLen)
		}
		return make([]byte, keyLen)
	}
	h, err := newHasher(fastParams, idKey)
	if err != nil {
		f.Fatalf("newHasher: got error %v, want nil", err)
	}

	f.Fuzz(func(t *testing.T, password, encoded string) {
		ok, rehash, err := h.Verify(password, encoded)
		if err != nil && (ok || rehash) {
			t.Fatalf("Verify: got ok=%v needsRehash=%v with error %v, want false, false", ok, rehash, err)
		}
		if !ok && rehash {
			t.Fatalf("Verify: got needsRehash without a match")
		}
		if err != nil && len(encoded) >= 8 && strings.Contains(err.Error(), encoded) {
			t.Fatalf("Verify: error %q contains the stored hash", err)
		}
		if ok && encoded != good && !strings.HasPrefix(encoded, "$argon2id$v=19$") {
			t.Fatalf("Verify accepted %q, which is not an argon2id v19 string", encoded)
		}
	})
}

func BenchmarkHash(b *testing.B) {
	h := newTestHasher(b, DefaultParams())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash("correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := newTestHasher(b, DefaultParams())
	encoded, err := h.Hash("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, err := h.Verify("correct horse battery staple", encoded); !ok || err != nil {
			b.Fatalf("Verify: got ok=%v err=%v, want true, nil", ok, err)
		}
	}
}
