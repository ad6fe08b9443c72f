package storetest

import (
	"context"
	"testing"
	"time"
)

// BenchmarkAuthentication measures what every authenticated request asks the store: SessionUser, the
// session-and-user check that makes logout and revocation take effect at once, next to FindUserByID,
// the user lookup that a token without revocation would need anyway. Their difference is the price of
// immediate revocation. Sequential and parallel runs show it alone and under contention.
func BenchmarkAuthentication(b *testing.B, s Store) {
	ctx := context.Background()
	u, err := s.CreateUser(ctx, "bench@example.com", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaA")
	if err != nil {
		b.Fatal(err)
	}
	sess, err := s.CreateSession(ctx, sessionCreate(u.ID, "bench", time.Now().Add(time.Hour)))
	if err != nil {
		b.Fatal(err)
	}
	lookups := []struct {
		name string
		fn   func() error
	}{
		{"FindUserByID", func() error { _, err := s.FindUserByID(ctx, u.ID); return err }},
		{"SessionUser", func() error { _, err := s.SessionUser(ctx, sess.ID, time.Now()); return err }},
	}
	for _, l := range lookups {
		b.Run(l.name, func(b *testing.B) {
			for b.Loop() {
				if err := l.fn(); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(l.name+"/parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := l.fn(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
