package auth

import (
	"errors"
	"net/http"
	"strings"
)

// challenge returns the WWW-Authenticate value for err (RFC 6750 §3):
// `Bearer` when the token is missing, `Bearer error="invalid_token",
// error_description="…"` when it was refused; realm, when not empty, comes
// first.
func challenge(realm string, err error) string {
	var b strings.Builder
	b.WriteString("Bearer")
	sep := " "
	if realm != "" {
		b.WriteString(sep + `realm="` + quoteSafe(realm) + `"`)
		sep = ", "
	}
	if err == nil || errors.Is(err, ErrTokenMissing) {
		return b.String()
	}
	desc := "invalid token"
	var te *TokenError
	if errors.As(err, &te) {
		desc = te.Description
	}
	b.WriteString(sep + `error="invalid_token", error_description="` + quoteSafe(desc) + `"`)
	return b.String()
}

// quoteSafe keeps the printable ASCII allowed in these quoted strings
// (RFC 6750 §3: %x20-21 / %x23-5B / %x5D-7E), dropping '"' and '\'.
func quoteSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
}

// unauthorized answers 401 with the challenge for err.
func unauthorized(w http.ResponseWriter, realm string, err error) {
	h := w.Header()
	h.Set("WWW-Authenticate", challenge(realm, err))
	h.Set("Cache-Control", "no-store")
	http.Error(w, http.StatusText(http.StatusUnauthorized), http.StatusUnauthorized)
}
