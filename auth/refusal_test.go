package auth_test

import (
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/wsmw/wsmw/auth"
	"github.com/wsmw/wsmw/middleware"
)

// tokenClaims returns the claims of a token that every policy below
// accepts, changed by edits.
func tokenClaims(edits ...func(jwt.MapClaims)) jwt.MapClaims {
	now := time.Now()
	c := jwt.MapClaims{
		"iss": "https://issuer.test",
		"aud": []string{"wsmw"},
		"sub": "alice",
		"iat": now.Add(-time.Minute).Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
	for _, e := range edits {
		e(c)
	}
	return c
}

func drop(name string) func(jwt.MapClaims) {
	return func(c jwt.MapClaims) { delete(c, name) }
}

func set(name string, v any) func(jwt.MapClaims) {
	return func(c jwt.MapClaims) { c[name] = v }
}

var (
	expired  = set("exp", time.Now().Add(-time.Minute).Unix())
	notYet   = set("nbf", time.Now().Add(time.Hour).Unix())
	issLater = set("iat", time.Now().Add(time.Hour).Unix())
	otherIss = set("iss", "https://evil.test")
	otherAud = set("aud", []string{"other"})
)

// strictClaims has a Validate method of its own, which golang-jwt runs
// with the standard checks.
type strictClaims struct {
	Role string `json:"role"`
	jwt.RegisteredClaims
}

func (c *strictClaims) Validate() error {
	if c.Role != "admin" {
		return errors.New("not an admin")
	}
	return nil
}

// TestRefusalReasons checks the error_description of each refused claim,
// alone and together with others, where the precedence of TokenError
// decides: at the upgrade (the 401 challenge) and through Validate, with
// each claims type (RegisteredClaims, MapClaims, a type with a Validate
// method), which must all say the same.
func TestRefusalReasons(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		edits []func(jwt.MapClaims)
		key   []byte // the signing key, the test secret when nil
		desc  string // "" for accepted
		is    error  // also matched by the refusal (errors.Is)
	}{
		{name: "valid"},
		{name: "bad signature", key: []byte("another secret, 32 bytes long..."), desc: "invalid signature", is: jwt.ErrTokenSignatureInvalid},
		{name: "bad signature, expired, no iss", edits: fns(expired, drop("iss")), key: []byte("another secret, 32 bytes long..."), desc: "invalid signature"},
		{name: "exp of the wrong type", edits: fns(set("exp", "tomorrow")), desc: "malformed token", is: jwt.ErrTokenMalformed},
		{name: "sub of the wrong type", edits: fns(set("sub", 42)), desc: "malformed token", is: jwt.ErrTokenMalformed},
		{name: "wrong-typed sub, no exp", edits: fns(set("sub", 42), drop("exp")), desc: "malformed token"},

		{name: "no exp", edits: fns(drop("exp")), desc: "token has no expiry", is: jwt.ErrTokenRequiredClaimMissing},
		{name: "no exp, no iss", edits: fns(drop("exp"), drop("iss")), desc: "token has no expiry"},
		{name: "no exp, not yet valid", edits: fns(drop("exp"), notYet), desc: "token has no expiry"},
		{name: "no exp, no sub", edits: fns(drop("exp"), drop("sub")), desc: "token has no expiry"},

		{name: "expired", edits: fns(expired), desc: "token expired", is: jwt.ErrTokenExpired},
		{name: "expired, no iss", edits: fns(expired, drop("iss")), desc: "token expired", is: jwt.ErrTokenExpired},
		{name: "expired, wrong iss", edits: fns(expired, otherIss), desc: "token expired"},
		{name: "expired, no aud", edits: fns(expired, drop("aud")), desc: "token expired"},
		{name: "expired, no sub", edits: fns(expired, drop("sub")), desc: "token expired"},
		{name: "expired, not yet valid", edits: fns(expired, notYet), desc: "token expired"},

		{name: "not yet valid", edits: fns(notYet), desc: "token not valid yet", is: jwt.ErrTokenNotValidYet},
		{name: "not yet valid, issued later, no aud", edits: fns(notYet, issLater, drop("aud")), desc: "token not valid yet"},

		{name: "issued later", edits: fns(issLater), desc: "token used before issued", is: jwt.ErrTokenUsedBeforeIssued},
		{name: "issued later, wrong iss", edits: fns(issLater, otherIss), desc: "token used before issued"},

		{name: "no iss", edits: fns(drop("iss")), desc: "token has no issuer", is: jwt.ErrTokenRequiredClaimMissing},
		{name: "empty iss", edits: fns(set("iss", "")), desc: "token has no issuer"},
		{name: "no iss, wrong aud", edits: fns(drop("iss"), otherAud), desc: "token has no issuer"},
		{name: "wrong iss", edits: fns(otherIss), desc: "invalid issuer", is: jwt.ErrTokenInvalidIssuer},
		{name: "wrong iss, no aud, no sub", edits: fns(otherIss, drop("aud"), drop("sub")), desc: "invalid issuer"},

		{name: "no aud", edits: fns(drop("aud")), desc: "token has no audience", is: jwt.ErrTokenRequiredClaimMissing},
		{name: "empty aud", edits: fns(set("aud", "")), desc: "token has no audience"},
		{name: "no aud, no sub", edits: fns(drop("aud"), drop("sub")), desc: "token has no audience"},
		{name: "wrong aud", edits: fns(otherAud), desc: "invalid audience", is: jwt.ErrTokenInvalidAudience},
		{name: "wrong aud, no sub", edits: fns(otherAud, drop("sub")), desc: "invalid audience"},
		{name: "one of the audiences", edits: fns(set("aud", []string{"other", "wsmw"}))},

		{name: "no sub", edits: fns(drop("sub")), desc: "token has no subject", is: jwt.ErrTokenRequiredClaimMissing},
		{name: "empty sub", edits: fns(set("sub", "")), desc: "token has no subject"},
	}
	policies := []struct {
		name   string
		claims func() jwt.Claims
	}{
		{"RegisteredClaims", func() jwt.Claims { return new(jwt.RegisteredClaims) }},
		{"MapClaims", func() jwt.Claims { return jwt.MapClaims{} }},
		{"custom Validate", func() jwt.Claims { return new(strictClaims) }},
	}
	for _, p := range policies {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			opts := []middleware.Option{auth.WithIssuer("https://issuer.test"), auth.WithAudience("wsmw"),
				auth.WithClaims(p.claims), middleware.WithLogger(discardLogger())}
			a, err := auth.New(auth.HMAC(secret), opts...)
			if err != nil {
				t.Fatal(err)
			}
			s := newServer(t, auth.HMAC(secret), opts...)
			accepted := 0
			for _, tc := range cases {
				c := tokenClaims(tc.edits...)
				c["role"] = "admin"
				key := tc.key
				if key == nil {
					key = secret
				}
				tok := sign(t, jwt.SigningMethodHS256, key, c)
				checkRefusal(t, s, a, tc.name, tok, tc.desc, tc.is)
				if tc.desc == "" {
					accepted++
				}
			}
			if n := s.handled.Load(); n != int32(accepted) {
				t.Fatalf("%d handlers ran, want %d (the accepted tokens)", n, accepted)
			}
		})
	}

	// What the claims type's own Validate refuses comes after every
	// standard claim.
	t.Run("custom Validate refuses", func(t *testing.T) {
		t.Parallel()
		opts := []middleware.Option{auth.WithClaims(func() jwt.Claims { return new(strictClaims) }), middleware.WithLogger(discardLogger())}
		a, err := auth.New(auth.HMAC(secret), opts...)
		if err != nil {
			t.Fatal(err)
		}
		s := newServer(t, auth.HMAC(secret), opts...)
		for _, tc := range []struct {
			name  string
			edits []func(jwt.MapClaims)
			desc  string
		}{
			{"a user", nil, "invalid token"},
			{"a user, no sub", fns(drop("sub")), "token has no subject"},
			{"a user, expired", fns(expired), "token expired"},
			{"a user, no iss (none required)", fns(drop("iss")), "invalid token"},
		} {
			c := tokenClaims(tc.edits...)
			c["role"] = "user"
			checkRefusal(t, s, a, tc.name, sign(t, jwt.SigningMethodHS256, secret, c), tc.desc, nil)
		}
	})

	// Without WithIssuer or WithAudience, iss and aud are not looked at.
	t.Run("no issuer or audience required", func(t *testing.T) {
		t.Parallel()
		a, err := auth.New(auth.HMAC(secret), middleware.WithLogger(discardLogger()))
		if err != nil {
			t.Fatal(err)
		}
		s := newServer(t, auth.HMAC(secret), middleware.WithLogger(discardLogger()))
		for name, edits := range map[string][]func(jwt.MapClaims){
			"no iss, no aud":    fns(drop("iss"), drop("aud")),
			"other iss and aud": fns(otherIss, otherAud),
		} {
			checkRefusal(t, s, a, name, sign(t, jwt.SigningMethodHS256, secret, tokenClaims(edits...)), "", nil)
		}
		checkRefusal(t, s, a, "no sub", sign(t, jwt.SigningMethodHS256, secret, tokenClaims(drop("sub"))), "token has no subject", nil)
	})
}

func fns(f ...func(jwt.MapClaims)) []func(jwt.MapClaims) { return f }

// checkRefusal checks token through a's Validate and at s's upgrade: both
// accept it when desc is "", else both refuse it with desc, and the
// refusal matches is.
func checkRefusal(t *testing.T, s *server, a *auth.Authenticator, name, token, desc string, is error) {
	t.Helper()
	_, err := a.Validate(t.Context(), token)
	if desc == "" {
		if err != nil {
			t.Errorf("%s: Validate: %v, want accepted", name, err)
			return
		}
		c := s.dial(bearer(token), "")
		echoes(t, c) // the handler runs
		c.Close()
		return
	}
	var te *auth.TokenError
	switch {
	case !errors.As(err, &te):
		t.Errorf("%s: Validate: %v, want a *TokenError", name, err)
	case te.Description != desc:
		t.Errorf("%s: Validate: %q, want %q", name, te.Description, desc)
	case !errors.Is(err, auth.ErrTokenInvalid):
		t.Errorf("%s: Validate: %v is not ErrTokenInvalid", name, err)
	case is != nil && !errors.Is(err, is):
		t.Errorf("%s: Validate: %v is not %v", name, err, is)
	}
	if got, want := s.refused(bearer(token), ""), invalidToken(desc); got != want {
		t.Errorf("%s: WWW-Authenticate %q, want %q", name, got, want)
	}
}

// TestRefusalReasonsAlgNone: a token signed with "none" is refused for its
// signature whatever else is wrong with it.
func TestRefusalReasonsAlgNone(t *testing.T) {
	t.Parallel()
	a, err := auth.New(auth.HMAC(secret), auth.WithIssuer("https://issuer.test"))
	if err != nil {
		t.Fatal(err)
	}
	s := newServer(t, auth.HMAC(secret), auth.WithIssuer("https://issuer.test"), middleware.WithLogger(discardLogger()))
	for name, c := range map[string]jwt.MapClaims{
		"valid claims":           tokenClaims(),
		"expired, no iss or sub": tokenClaims(expired, drop("iss"), drop("sub")),
	} {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, maps.Clone(c)).SignedString(jwt.UnsafeAllowNoneSignatureType)
		if err != nil {
			t.Fatal(err)
		}
		checkRefusal(t, s, a, name, tok, "invalid signature", jwt.ErrTokenSignatureInvalid)
	}
}
