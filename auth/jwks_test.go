package auth_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/middleware"
)

// jwksServer serves a JWK Set whose keys the test can rotate.
type jwksServer struct {
	t       *testing.T
	mu      sync.Mutex
	body    []byte
	fetches atomic.Int32
	url     string
}

func newJWKSServer(t *testing.T) *jwksServer {
	j := &jwksServer{t: t}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		j.fetches.Add(1)
		j.mu.Lock()
		body := j.body
		j.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	j.url = srv.URL + "/.well-known/jwks.json"
	return j
}

// serve replaces the set with the public halves of keys, by kid.
func (j *jwksServer) serve(keys map[string]*rsa.PrivateKey) {
	j.t.Helper()
	store := jwkset.NewMemoryStorage()
	for kid, k := range keys {
		jwk, err := jwkset.NewJWKFromKey(&k.PublicKey, jwkset.JWKOptions{
			Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: jwkset.AlgRS256, USE: jwkset.UseSig},
		})
		if err != nil {
			j.t.Fatal(err)
		}
		if err := store.KeyWrite(context.Background(), jwk); err != nil {
			j.t.Fatal(err)
		}
	}
	body, err := store.JSONPublic(context.Background())
	if err != nil {
		j.t.Fatal(err)
	}
	j.mu.Lock()
	j.body = body
	j.mu.Unlock()
}

func kidToken(t *testing.T, kid string, k *rsa.PrivateKey, sub string) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims(sub, time.Minute))
	tok.Header["kid"] = kid
	s, err := tok.SignedString(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestJWKSKeyRotation(t *testing.T) {
	t.Parallel()
	old, _, _ := keys(t)
	rotated, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	j := newJWKSServer(t)
	j.serve(map[string]*rsa.PrivateKey{"k1": old})

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	key, err := auth.JWKS(ctx, j.url, auth.WithHTTPTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, key, middleware.WithLogger(discardLogger()))
	s.dial(bearer(kidToken(t, "k1", old, "alice")), "")
	before := j.fetches.Load()

	// The issuer rotates: k2 replaces k1. A token with the new kid is
	// accepted at once, before any scheduled refresh: the unknown kid makes
	// keyfunc fetch the set again.
	j.serve(map[string]*rsa.PrivateKey{"k2": rotated})
	c := s.dial(bearer(kidToken(t, "k2", rotated, "bob")), "")
	if reply := roundTrip(t, c, command{Type: "claims"}); reply.Sub != "bob" {
		t.Fatalf("claims %+v", reply)
	}
	if j.fetches.Load() == before {
		t.Fatal("the set was not fetched again for the new kid")
	}
	// A token signed with another key under a known kid is refused.
	if c, err := wstest.DialRaw(s.url, bearer(kidToken(t, "k2", old, "alice"))); err == nil || c.Response.StatusCode != 401 {
		t.Fatalf("wrong key for kid: %v, want 401", err)
	}
	// The retired kid and made-up kids are refused, quickly: fetches on
	// unknown kids are rate limited and nobody waits for the next one.
	start := time.Now()
	for _, kid := range []string{"k1", "k3", "k4"} {
		if c, err := wstest.DialRaw(s.url, bearer(kidToken(t, kid, old, "alice"))); err == nil || c.Response.StatusCode != 401 {
			t.Fatalf("kid %s: %v, want 401", kid, err)
		}
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("unknown kids took %v", el)
	}
}
