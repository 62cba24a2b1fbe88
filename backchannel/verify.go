package backchannel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
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

// DefaultAlgorithms are the signature algorithms accepted when a
// provider's logout.Provider.SigningAlgorithms is empty: RS256 only, the
// default of a client's id_token_signed_response_alg (OpenID Connect Core
// 1.0, section 3.1.3.7). A provider that signs with another algorithm
// needs SigningAlgorithms.
var DefaultAlgorithms = []jose.SignatureAlgorithm{jose.RS256}

// invalid returns an ErrInvalidToken error with a reason.
func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, fmt.Sprintf(format, args...))
}

// Verify validates raw as OpenID Connect Back-Channel Logout 1.0, section
// 2.6, asks: a signature with one of the provider's SigningAlgorithms, by
// a key of the provider's JWKS or, for an HMAC algorithm, by its
// ClientSecret; iss (of a provider the logout.Middleware knows),
// aud, iat within the window, exp when present (or required), the
// back-channel logout event, sid and/or sub, no nonce. The claims are read
// strictly: names are case-sensitive, iat and exp must be JSON numbers,
// no claim may appear twice and nothing may follow the JSON object. It
// does not check jti for replays; ServeHTTP does. Errors wrap
// ErrInvalidToken, or ErrKeys when the keys could not be fetched.
func (h *Handler) Verify(ctx context.Context, raw string) (*LogoutToken, error) {
	if strings.Count(raw, ".") != 2 {
		return nil, invalid("not a signed JWT in compact serialization (encrypted logout tokens are not supported)")
	}
	jws, err := jose.ParseSignedCompact(raw, parseAlgs)
	if err != nil {
		return nil, invalid("%v", err)
	}
	hdr := jws.Signatures[0].Protected
	if err := checkType(hdr); err != nil {
		return nil, err
	}
	v, err := h.verifierFor(ctx, jws)
	if err != nil {
		return nil, err
	}
	if _, isHMAC := hmacKeyBytes[jose.SignatureAlgorithm(hdr.Algorithm)]; !isHMAC && v.noKeys != nil {
		return nil, v.noKeys
	}
	if !slices.Contains(v.algs, jose.SignatureAlgorithm(hdr.Algorithm)) {
		return nil, invalid("algorithm %s is not the issuer's", hdr.Algorithm)
	}
	// The claims verifierFor read are those of the payload the signature
	// covers: a compact JWS has one payload.
	if _, err := v.verifySignature(ctx, jws, hdr); err != nil {
		return nil, err
	}
	return h.checkClaimsOf(v.verifier, v.claims)
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

// verifySignature checks the signature and returns the payload. An HMAC
// algorithm (accepted only with a client secret) is checked with the
// client secret and nothing else; any other algorithm with the provider's
// public keys named by kid (or all of them when there is no kid).
func (h *verifier) verifySignature(ctx context.Context, jws *jose.JSONWebSignature, hdr jose.Header) ([]byte, error) {
	alg := jose.SignatureAlgorithm(hdr.Algorithm)
	if _, isHMAC := hmacKeyBytes[alg]; isHMAC {
		// ParseSignedCompact accepted alg, so it is in h.algs, which holds
		// an HMAC algorithm only when h.secret is set; check anyway.
		if h.secret == nil {
			return nil, invalid("algorithm %s needs the client secret", alg)
		}
		payload, err := jws.Verify(h.secret)
		if err != nil {
			return nil, invalid("signature does not verify with the client secret")
		}
		return payload, nil
	}
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

// claimSet is a logout token's payload: each member of its JSON object,
// by exact name.
type claimSet map[string]json.RawMessage

// parseClaimSet decodes a JSON object strictly: member names are kept as
// they are (no case folding), a name that appears twice is refused (RFC
// 7519, section 4), and nothing but white space may follow the object.
func parseClaimSet(data []byte) (claimSet, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	set := claimSet{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, errors.New("not a valid JSON object")
		}
		name, _ := tok.(string)
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, errors.New("not a valid JSON object")
		}
		if _, dup := set[name]; dup {
			return nil, fmt.Errorf("%q appears twice", name)
		}
		set[name] = value
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, errors.New("not a valid JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data follows the JSON object")
	}
	return set, nil
}

// str returns the string claim name, and whether it is present. A claim
// that is present but not a JSON string (null included) is an error.
func (c claimSet) str(name string) (string, bool, error) {
	raw, ok := c[name]
	if !ok {
		return "", false, nil
	}
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", true, invalid("%s is not a string", name)
	}
	return s, true, nil
}

// numericDate returns the NumericDate claim name (seconds since the epoch,
// maybe fractional), and whether it is present. A claim that is present
// but not a JSON number (a numeric string or null included), or not a
// plausible date, is an error.
func (c claimSet) numericDate(name string) (time.Time, bool, error) {
	raw, ok := c[name]
	if !ok {
		return time.Time{}, false, nil
	}
	if len(raw) == 0 || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return time.Time{}, true, invalid("%s is not a number", name)
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || f <= 0 || f > 1e12 {
		return time.Time{}, true, invalid("%s is not a plausible date", name)
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)), true, nil
}

// audience returns the aud claim: a string or an array of strings.
func (c claimSet) audience() ([]string, error) {
	raw, ok := c["aud"]
	if !ok {
		return nil, invalid("aud is missing")
	}
	if one, _, err := c.str("aud"); err == nil {
		return []string{one}, nil
	}
	var many []string
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &many) != nil {
		return nil, invalid("aud is neither a string nor an array of strings")
	}
	return many, nil
}

// checkClaimsOf validates the claims of a payload verified with v's keys,
// read strictly by parseClaimSet: iss must be v's (one trailing slash
// aside, the rule of the logout middleware and of the Ledger's keys), aud
// must contain v's client_id.
func (h *Handler) checkClaimsOf(v *verifier, c claimSet) (*LogoutToken, error) {
	t := &LogoutToken{}
	for _, step := range []func(claimSet, *LogoutToken) error{v.checkIssuerAudience, h.checkTimes, checkLogoutClaims} {
		if err := step(c, t); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (h *verifier) checkIssuerAudience(c claimSet, t *LogoutToken) error {
	// An iss that is not a string reads as "", never a provider's issuer
	// (verifierFor refuses it first).
	iss, _, _ := c.str("iss")
	if issuerKey(iss) != issuerKey(h.issuer) {
		return invalid("iss %q is not the configured issuer", iss)
	}
	aud, err := c.audience()
	if err != nil {
		return err
	}
	if !slices.Contains(aud, h.clientID) {
		return invalid("aud does not contain the client_id")
	}
	t.Issuer, t.Audience = iss, aud
	return nil
}

func (h *Handler) checkTimes(c claimSet, t *LogoutToken) error {
	now := h.now()
	iat, ok, err := c.numericDate("iat")
	switch {
	case err != nil:
		return err
	case !ok:
		return invalid("iat is missing")
	case iat.After(now.Add(h.skew)):
		return invalid("iat is in the future")
	case iat.Before(now.Add(-h.maxAge - h.skew)):
		return invalid("iat is older than %v", h.maxAge)
	}
	exp, ok, err := c.numericDate("exp")
	switch {
	case err != nil:
		return err
	case !ok && h.requireExp:
		return invalid("exp is missing")
	case ok && !now.Before(exp.Add(h.skew)):
		return invalid("the token has expired")
	}
	t.IssuedAt, t.Expiry = iat, exp
	return nil
}

// checkLogoutClaims checks what makes a JWT a logout token and not, say,
// an ID token: the event, sid or sub, no nonce, a jti.
func checkLogoutClaims(c claimSet, t *LogoutToken) error {
	rawEvents, ok := c["events"]
	if !ok {
		return invalid("events does not contain %s", EventBackChannelLogout)
	}
	events, err := parseClaimSet(rawEvents)
	if err != nil {
		return invalid("events: %v", err)
	}
	ev, ok := events[EventBackChannelLogout]
	if !ok {
		return invalid("events does not contain %s", EventBackChannelLogout)
	}
	if len(ev) == 0 || ev[0] != '{' {
		return invalid("the back-channel logout event is not a JSON object")
	}
	if _, ok := c["nonce"]; ok {
		return invalid("a logout token must not contain nonce")
	}
	sid, _, err := c.str("sid")
	if err != nil {
		return err
	}
	sub, _, err := c.str("sub")
	if err != nil {
		return err
	}
	if sid == "" && sub == "" {
		return invalid("neither sid nor sub is present")
	}
	jti, _, err := c.str("jti")
	if err != nil {
		return err
	}
	if jti == "" {
		return invalid("jti is missing")
	}
	t.SID, t.Subject, t.JTI = sid, sub, jti
	return nil
}
