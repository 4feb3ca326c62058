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
// signing algorithms it accepts for it. Make one with HMAC, RSA, ECDSA,
// Ed25519, PublicKey, Keyfunc or JWKS.
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
	return Key{err: fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)}
}

// HMAC verifies HS256, HS384 and HS512 tokens with a shared secret. The
// secret should be at least 32 random bytes; an empty one is an error.
func HMAC(secret []byte) Key {
	if len(secret) == 0 {
		return badKey("empty HMAC secret")
	}
	return staticKey(append([]byte(nil), secret...), hmacAlgs)
}

// RSA verifies RS256/384/512 and PS256/384/512 tokens with an RSA public
// key.
func RSA(pub *rsa.PublicKey) Key {
	if pub == nil {
		return badKey("nil RSA key")
	}
	return staticKey(pub, rsaAlgs)
}

// ECDSA verifies ES256, ES384 or ES512 tokens, the one that matches the
// key's curve (P-256, P-384, P-521).
func ECDSA(pub *ecdsa.PublicKey) Key {
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

// Ed25519 verifies EdDSA tokens with an Ed25519 public key.
func Ed25519(pub ed25519.PublicKey) Key {
	if len(pub) != ed25519.PublicKeySize {
		return badKey("bad Ed25519 key size %d", len(pub))
	}
	return staticKey(pub, ed25519Algs)
}

// PublicKey picks RSA, ECDSA or Ed25519 by the type of pub (a pointer or,
// for Ed25519, the value, as crypto and x509 return them).
func PublicKey(pub crypto.PublicKey) Key {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return RSA(k)
	case *ecdsa.PublicKey:
		return ECDSA(k)
	case ed25519.PublicKey:
		return Ed25519(k)
	case *ed25519.PublicKey:
		if k != nil {
			return Ed25519(*k)
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

// Algorithms returns the signing algorithms the key accepts.
func (k Key) Algorithms() []string { return append([]string(nil), k.algs...) }

// Err returns the key's configuration error, nil when it is usable.
func (k Key) Err() error { return k.err }
