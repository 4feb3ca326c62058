package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"

	"github.com/golang-jwt/jwt/v5"
)

// Algorithm families allowed for each kind of key. "none" is never allowed.
var (
	hmacAlgs    = []string{"HS256", "HS384", "HS512"}
	rsaAlgs     = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	ed25519Algs = []string{"EdDSA"}
	// asymmetricAlgs is the default for a Keyfunc or a JWKS: an HMAC
	// algorithm must be named explicitly, so that a public key can never be
	// used as an HMAC secret.
	asymmetricAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)

// Key is where the policy finds the key that verifies a token, and the
// signing algorithms it accepts for it. Make one with [HMAC], [PublicKey],
// [Keyfunc] or [JWKS]; an unusable one makes [New] fail and [JWT] panic.
type Key struct {
	keyfunc func(ctx context.Context) jwt.Keyfunc
	algs    []string
	err     error
}

func staticKey(key any, algs []string) Key {
	kf := func(*jwt.Token) (any, error) { return key, nil }
	return Key{keyfunc: func(context.Context) jwt.Keyfunc { return kf }, algs: algs}
}

func badKey(format string, args ...any) Key {
	return Key{err: fmt.Errorf("%w: "+format, append([]any{errConfig}, args...)...)}
}

// HMAC verifies HS256, HS384 and HS512 tokens with a shared secret. The
// secret should be at least 32 random bytes; an empty one is an error.
func HMAC(secret []byte) Key {
	if len(secret) == 0 {
		return badKey("empty HMAC secret")
	}
	return staticKey(append([]byte(nil), secret...), hmacAlgs)
}

// rsaKey verifies RS256/384/512 and PS256/384/512 tokens with an RSA
// public key.
func rsaKey(pub *rsa.PublicKey) Key {
	if pub == nil {
		return badKey("nil RSA key")
	}
	return staticKey(pub, rsaAlgs)
}

// ecdsaKey verifies ES256, ES384 or ES512 tokens, the one that matches the
// key's curve (P-256, P-384, P-521).
func ecdsaKey(pub *ecdsa.PublicKey) Key {
	if pub == nil {
		return badKey("nil ECDSA key")
	}
	switch pub.Curve {
	case elliptic.P256():
		return staticKey(pub, []string{"ES256"})
	case elliptic.P384():
		return staticKey(pub, []string{"ES384"})
	case elliptic.P521():
		return staticKey(pub, []string{"ES512"})
	}
	return badKey("unsupported ECDSA curve")
}

// ed25519Key verifies EdDSA tokens with an Ed25519 public key.
func ed25519Key(pub ed25519.PublicKey) Key {
	if len(pub) != ed25519.PublicKeySize {
		return badKey("bad Ed25519 key size %d", len(pub))
	}
	return staticKey(pub, ed25519Algs)
}

// PublicKey verifies tokens with an RSA, ECDSA or Ed25519 public key, as
// crypto/x509 returns them ([*rsa.PublicKey], [*ecdsa.PublicKey],
// [ed25519.PublicKey] or a pointer to one): RS256/384/512 and PS256/384/512
// for RSA; for ECDSA, the one of ES256, ES384 and ES512 that matches the
// key's curve (P-256, P-384, P-521); EdDSA for Ed25519. Another type, a
// nil key or another curve is unusable.
func PublicKey(pub crypto.PublicKey) Key {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return rsaKey(k)
	case *ecdsa.PublicKey:
		return ecdsaKey(k)
	case ed25519.PublicKey:
		return ed25519Key(k)
	case *ed25519.PublicKey:
		if k != nil {
			return ed25519Key(*k)
		}
	}
	return badKey("unsupported public key type %T", pub)
}

// Keyfunc verifies tokens with keys found by f, accepting the algorithms
// algs. With no algs, only the asymmetric ones (RS*, PS*, ES*, EdDSA) are
// accepted: name the HS* algorithms to accept HMAC keys. golang-jwt also
// refuses a key whose type does not match the token's algorithm.
func Keyfunc(f jwt.Keyfunc, algs ...string) Key {
	if f == nil {
		return badKey("nil Keyfunc")
	}
	if len(algs) == 0 {
		algs = asymmetricAlgs
	}
	return Key{keyfunc: func(context.Context) jwt.Keyfunc { return f }, algs: append([]string(nil), algs...)}
}
