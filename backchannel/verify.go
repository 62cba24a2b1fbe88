package backchannel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// EventBackChannelLogout is the member of a logout token's events claim
// that marks it as a back-channel logout.
const EventBackChannelLogout = "http://schemas.openid.net/event/backchannel-logout"

// ErrInvalidToken means a logout token failed validation; the handler
// answers 400. The error text says which check failed and never holds the
// token.
var ErrInvalidToken = errors.New("backchannel: invalid logout token")

// LogoutToken holds the validated claims of a logout token.
type LogoutToken struct {
	Issuer   string
	Subject  string // may be empty when SID is set
	SID      string // may be empty when Subject is set
	Audience []string
	JTI      string
	IssuedAt time.Time
	Expiry   time.Time // zero when the token has no exp
}

// DefaultAlgorithms are the signature algorithms accepted by default: the
// asymmetric ones. "none" and the HMAC algorithms (HS256...) are never
// accepted, since the keys come from the provider's public JWKS.
var DefaultAlgorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.EdDSA,
}

// invalid returns an ErrInvalidToken error with a reason.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, fmt.Sprintf(format, args...))
}

// Verify validates raw as OpenID Connect Back-Channel Logout 1.0, section
// 2.6, asks: signature by one of the provider's keys with an allowed
// algorithm, iss, aud, iat within the window, exp when present (or
// required), the back-channel logout event, sid and/or sub, no nonce. It
// does not check jti for replays; ServeHTTP does. Errors wrap
// ErrInvalidToken, or ErrKeys when the keys could not be fetched.
func (h *Handler) Verify(ctx context.Context, raw string) (*LogoutToken, error) {
	if strings.Count(raw, ".") != 2 {
		return nil, invalid("not a signed JWT in compact serialization (encrypted logout tokens are not supported)")
	}
	jws, err := jose.ParseSignedCompact(raw, h.algs)
	if err != nil {
		return nil, invalid("%v", err)
	}
	hdr := jws.Signatures[0].Protected
	if err := checkType(hdr); err != nil {
		return nil, err
	}
	payload, err := h.verifySignature(ctx, jws, hdr)
	if err != nil {
		return nil, err
	}
	return h.checkClaims(payload)
}

// checkType refuses tokens explicitly typed as something other than a
// logout token or a plain JWT (such as an access token, "at+jwt").
func checkType(hdr jose.Header) error {
	typ, _ := hdr.ExtraHeaders[jose.HeaderType].(string)
	switch strings.ToLower(typ) {
	case "", "jwt", "logout+jwt", "application/logout+jwt":
		return nil
	}
	return invalid("typ %q is not a logout token", typ)
}

// verifySignature checks the signature against the provider's keys named
// by kid (or all its keys when there is no kid) and returns the payload.
func (h *Handler) verifySignature(ctx context.Context, jws *jose.JSONWebSignature, hdr jose.Header) ([]byte, error) {
	keys, err := h.keys.lookup(ctx, hdr.KeyID)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, invalid("no provider key with kid %q", hdr.KeyID)
	}
	for _, k := range keys {
		if k.Algorithm != "" && k.Algorithm != hdr.Algorithm {
			continue
		}
		if payload, err := jws.Verify(k.Key); err == nil {
			return payload, nil
		}
	}
	return nil, invalid("signature does not verify with the provider's keys")
}

// tokenClaims are the claims of a logout token as sent.
type tokenClaims struct {
	Iss    string                     `json:"iss"`
	Sub    string                     `json:"sub"`
	Aud    audience                   `json:"aud"`
	Iat    *json.Number               `json:"iat"`
	Exp    *json.Number               `json:"exp"`
	Jti    string                     `json:"jti"`
	Sid    string                     `json:"sid"`
	Events map[string]json.RawMessage `json:"events"`
	Nonce  json.RawMessage            `json:"nonce"`
}

// audience is the aud claim: a string or an array of strings.
type audience []string

// UnmarshalJSON accepts a string or an array of strings.
func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = many
	return nil
}

// checkClaims validates the claims of a verified payload.
func (h *Handler) checkClaims(payload []byte) (*LogoutToken, error) {
	var c tokenClaims
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		return nil, invalid("claims: %v", err)
	}
	for _, check := range []func(*tokenClaims) error{h.checkIssuerAudience, h.checkTimes, checkLogoutClaims} {
		if err := check(&c); err != nil {
			return nil, err
		}
	}
	t := &LogoutToken{Issuer: c.Iss, Subject: c.Sub, SID: c.Sid, Audience: c.Aud, JTI: c.Jti}
	t.IssuedAt, _ = numericDate(c.Iat)
	t.Expiry, _ = numericDate(c.Exp)
	return t, nil
}

func (h *Handler) checkIssuerAudience(c *tokenClaims) error {
	if c.Iss != h.issuer {
		return invalid("iss %q is not the configured issuer", c.Iss)
	}
	for _, a := range c.Aud {
		if a == h.clientID {
			return nil
		}
	}
	return invalid("aud does not contain the client_id")
}

func (h *Handler) checkTimes(c *tokenClaims) error {
	now := h.now()
	iat, ok := numericDate(c.Iat)
	switch {
	case !ok:
		return invalid("iat is missing or not a number")
	case iat.After(now.Add(h.skew)):
		return invalid("iat is in the future")
	case iat.Before(now.Add(-h.maxAge - h.skew)):
		return invalid("iat is older than %v", h.maxAge)
	}
	if c.Exp == nil {
		if h.requireExp {
			return invalid("exp is missing")
		}
		return nil
	}
	exp, ok := numericDate(c.Exp)
	if !ok {
		return invalid("exp is not a number")
	}
	if !now.Before(exp.Add(h.skew)) {
		return invalid("the token has expired")
	}
	return nil
}

// checkLogoutClaims checks what makes a JWT a logout token and not, say,
// an ID token: the event, sid or sub, no nonce, a jti.
func checkLogoutClaims(c *tokenClaims) error {
	ev, ok := c.Events[EventBackChannelLogout]
	if !ok {
		return invalid("events does not contain %s", EventBackChannelLogout)
	}
	if t := bytes.TrimSpace(ev); len(t) == 0 || t[0] != '{' {
		return invalid("the back-channel logout event is not a JSON object")
	}
	if c.Nonce != nil {
		return invalid("a logout token must not contain nonce")
	}
	if c.Sid == "" && c.Sub == "" {
		return invalid("neither sid nor sub is present")
	}
	if c.Jti == "" {
		return invalid("jti is missing")
	}
	return nil
}

// numericDate converts a JWT NumericDate (seconds, maybe fractional).
func numericDate(n *json.Number) (time.Time, bool) {
	if n == nil {
		return time.Time{}, false
	}
	f, err := n.Float64()
	if err != nil || f <= 0 || f > 1e12 {
		return time.Time{}, false
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true
}
