package auth_test

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/internal/wstest"
	"github.com/wsmw/wsmw/middleware"
)

// tamper changes one claim in the payload and keeps the signature.
func tamper(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	payload = []byte(strings.Replace(string(payload), `"alice"`, `"admin"`, 1))
	parts[1] = base64.RawURLEncoding.EncodeToString(payload)
	return strings.Join(parts, ".")
}

func TestRefusedTokens(t *testing.T) {
	t.Parallel()
	priv, _, _ := keys(t)
	s := newServer(t, auth.PublicKey(&priv.PublicKey),
		auth.WithIssuer("https://issuer.test"), auth.WithAudience("wsmw"), middleware.WithLogger(discardLogger()))
	rs := func(c *jwt.RegisteredClaims) string { return sign(t, jwt.SigningMethodRS256, priv, c) }
	good := func() *jwt.RegisteredClaims {
		c := claims("alice", time.Minute)
		c.Issuer, c.Audience = "https://issuer.test", jwt.ClaimStrings{"wsmw"}
		return c
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	// The valid token passes, so each refusal below is due to its one flaw.
	s.dial(bearer(rs(good())), "")

	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, good()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	expired := good()
	expired.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Second))
	early := good()
	early.NotBefore = jwt.NewNumericDate(time.Now().Add(time.Hour))
	future := good()
	future.IssuedAt = jwt.NewNumericDate(time.Now().Add(time.Hour))
	wrongIss := good()
	wrongIss.Issuer = "https://evil.test"
	wrongAud := good()
	wrongAud.Audience = jwt.ClaimStrings{"other"}
	noExp := good()
	noExp.ExpiresAt = nil

	cases := []struct {
		name, token, desc string
	}{
		{"alg none", none, "invalid signature"},
		{"HS256 with the RSA public key", sign(t, jwt.SigningMethodHS256, pubPEM, good()), "invalid signature"},
		{"expired", rs(expired), "token expired"},
		{"not yet valid", rs(early), "token not valid yet"},
		{"issued in the future", rs(future), "token used before issued"},
		{"wrong issuer", rs(wrongIss), "invalid issuer"},
		{"wrong audience", rs(wrongAud), "invalid audience"},
		{"no exp", rs(noExp), "token has no expiry"},
		{"malformed", "not.a.jwt", "malformed token"},
		{"garbage characters", "a+b", "malformed token"},
		{"empty", "", "malformed token"},
		{"tampered", tamper(t, rs(good())), "invalid signature"},
		{"oversized", strings.Repeat("a", 8<<10+1), "token too large"}, // over the default cap, 8 KiB
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := `Bearer error="invalid_token", error_description="` + tc.desc + `"`
			for _, via := range []struct {
				header http.Header
				query  string
			}{
				{header: http.Header{"Authorization": {"Bearer " + tc.token}}},
				{query: "access_token=" + tc.token},
			} {
				u := s.url
				if via.query != "" {
					u += "?" + via.query
				}
				c, err := wstest.DialRaw(u, via.header)
				if err == nil {
					c.Close()
					t.Fatal("upgraded")
				}
				if c == nil || c.Response.StatusCode != http.StatusUnauthorized {
					t.Fatalf("err %v, want 401", err)
				}
				if got := c.Response.Header.Get("WWW-Authenticate"); got != want {
					t.Fatalf("WWW-Authenticate %q, want %q", got, want)
				}
			}
		})
	}
	if n := s.handled.Load(); n != 1 {
		t.Fatalf("%d handlers ran, want 1 (the valid token only)", n)
	}
}

func TestMissingToken(t *testing.T) {
	t.Parallel()
	s := newServer(t, auth.HMAC(secret), middleware.WithLogger(discardLogger()), auth.WithRealm("demo"))
	c, err := wstest.DialRaw(s.url, nil)
	if err == nil || c.Response.StatusCode != http.StatusUnauthorized {
		t.Fatalf("err %v, want 401", err)
	}
	if got := c.Response.Header.Get("WWW-Authenticate"); got != `Bearer realm="demo"` {
		t.Fatalf("WWW-Authenticate %q", got)
	}
	// A plain HTTP request passes the policy untouched (the upgrader says 426).
	resp, err := http.Get("http" + strings.TrimPrefix(s.url, "ws"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("plain GET: %d, want 426", resp.StatusCode)
	}
}

func TestKeyTypes(t *testing.T) {
	t.Parallel()
	priv, ec, ed := keys(t)
	cases := []struct {
		name   string
		key    auth.Key
		method jwt.SigningMethod
		sign   any
	}{
		{"RS256", auth.PublicKey(&priv.PublicKey), jwt.SigningMethodRS256, priv},
		{"PS384", auth.PublicKey(&priv.PublicKey), jwt.SigningMethodPS384, priv},
		{"ES256", auth.PublicKey(&ec.PublicKey), jwt.SigningMethodES256, ec},
		{"EdDSA", auth.PublicKey(ed.Public().(ed25519.PublicKey)), jwt.SigningMethodEdDSA, ed},
		{"EdDSA via PublicKey", auth.PublicKey(ed.Public()), jwt.SigningMethodEdDSA, ed},
		{"Keyfunc", auth.Keyfunc(func(*jwt.Token) (any, error) { return &ec.PublicKey, nil }), jwt.SigningMethodES256, ec},
		{"HS512", auth.HMAC(secret), jwt.SigningMethodHS512, secret},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a, err := auth.New(tc.key)
			if err != nil {
				t.Fatal(err)
			}
			tok := sign(t, tc.method, tc.sign, claims("alice", time.Minute))
			if _, err := a.Validate(t.Context(), tok); err != nil {
				t.Fatalf("valid token refused: %v", err)
			}
			// An HMAC token whose secret is the public key's bytes is refused.
			if _, err := a.Validate(t.Context(), sign(t, jwt.SigningMethodHS256, []byte("public key bytes"), claims("alice", time.Minute))); err == nil && tc.name != "HS512" {
				t.Fatal("HS256 token accepted by an asymmetric key")
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	priv, _, _ := keys(t)
	for name, f := range map[string]func() (*auth.Authenticator, error){
		"empty secret": func() (*auth.Authenticator, error) { return auth.New(auth.HMAC(nil)) },
		"zero key":     func() (*auth.Authenticator, error) { return auth.New(auth.Key{}) },
		"none allowed": func() (*auth.Authenticator, error) { return auth.New(auth.Keyfunc(jwt.Keyfunc(nil))) },
		"alg outside key": func() (*auth.Authenticator, error) {
			return auth.New(auth.PublicKey(&priv.PublicKey), auth.WithAlgorithms("HS256"))
		},
		"none in keyfunc": func() (*auth.Authenticator, error) {
			return auth.New(auth.Keyfunc(func(*jwt.Token) (any, error) { return nil, nil }, "none"))
		},
		"bad public key": func() (*auth.Authenticator, error) { return auth.New(auth.PublicKey("nope")) },
	} {
		if _, err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// Meaningless options, and JWT with an unusable key, fail at start-up.
	for name, f := range map[string]func(){
		"no sources":         func() { auth.WithSources() },
		"negative leeway":    func() { auth.WithLeeway(-time.Second) },
		"JWT with no secret": func() { auth.JWT(auth.HMAC(nil)) },
		"an option of the upgrader": func() {
			auth.JWT(auth.HMAC(secret), middleware.WithOrigins("app.example.com"))
		},
	} {
		func() {
			defer func() {
				if p := recover(); p == nil || !strings.HasPrefix(fmt.Sprint(p), "wsmw: ") {
					t.Errorf("%s: recovered %v, want a wsmw panic", name, p)
				}
			}()
			f()
		}()
	}
}
