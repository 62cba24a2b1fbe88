package backchannel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/gorilla/sessions"

	"github.com/oidc-logout/logout"
)

const (
	fuzzIssuer   = "https://op.example.com/"
	fuzzClientID = "app"
	fuzzSecret   = "fuzz-client-secret-0123456789abcdef"
)

var fuzzNow = time.Unix(1_700_000_000, 0)

// fuzzMiddleware returns a logout.Middleware with providers, each with
// every endpoint set, so that Discover does no network I/O.
func fuzzMiddleware(tb testing.TB, providers ...logout.Provider) *logout.Middleware {
	for i, p := range providers {
		p.EndSessionEndpoint, p.RevocationEndpoint = p.Issuer+"/session/end", p.Issuer+"/revoke"
		if p.JWKSURI == "" {
			p.JWKSURI = p.Issuer + "/jwks"
		}
		providers[i] = p
	}
	m, err := logout.New(logout.Config{
		Store: sessions.NewCookieStore([]byte("0123456789abcdef0123456789abcdef")), SessionName: "app",
		Providers: providers,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// fuzzHandler returns a Handler whose clock is fuzzNow, whose provider
// accepts RS256 and HS256 and whose JWKS (empty) is already fetched, so
// that Verify does no network I/O, and the verifier of that provider.
func fuzzHandler(f *testing.F) (*Handler, *verifier) {
	m := fuzzMiddleware(f, logout.Provider{
		Issuer: fuzzIssuer, ClientID: fuzzClientID,
		SigningAlgorithms: []string{"RS256", "HS256"}, ClientSecret: fuzzSecret,
	})
	h, err := New(m, Config{Ledger: logout.NewMemoryLedger(logout.MemoryLedgerConfig{}), MinKeyRefresh: time.Hour})
	if err != nil {
		f.Fatal(err)
	}
	h.now = func() time.Time { return fuzzNow }
	p, err := m.Discover(context.Background(), fuzzIssuer)
	if err != nil {
		f.Fatal(err)
	}
	v, err := h.providers.cached(p)
	if err != nil {
		f.Fatal(err)
	}
	v.keys.keys, v.keys.fetchedAt, v.keys.triedAt = &jose.JSONWebKeySet{}, fuzzNow, fuzzNow
	return h, v
}

// claimsOf reads payload strictly, as verifierFor does, and checks its
// claims for v, as Verify does once the signature is checked.
func (h *Handler) claimsOf(v *verifier, payload []byte) (*LogoutToken, error) {
	c, err := parseClaimSet(payload)
	if err != nil {
		return nil, invalid("claims: %v", err)
	}
	if _, _, err := c.str("iss"); err != nil {
		return nil, err
	}
	return h.checkClaimsOf(v, c)
}

// fuzzPayloads are seeds: a valid payload, and the shapes strict parsing
// refuses.
var fuzzPayloads = []string{
	`{"iss":"https://op.example.com/","aud":"app","iat":1700000000,"exp":1700000120,"jti":"j","sid":"s","events":{"http://schemas.openid.net/event/backchannel-logout":{}},"ignored_claim":"x"}`,
	`{"ISS":"https://op.example.com/","aud":["app"],"iat":1700000000,"jti":"j","sub":"u","events":{"http://schemas.openid.net/event/backchannel-logout":{}}}`,
	`{"iss":"https://op.example.com/","aud":"app","iat":1700000000,"jti":"j","Sid":"s","events":{"http://schemas.openid.net/event/backchannel-logout":{}}}`,
	`{"iss":"https://op.example.com/","aud":"app","iat":"1700000000","jti":"j","sid":"s","events":{"http://schemas.openid.net/event/backchannel-logout":{}}}`,
	`{"iss":"https://op.example.com/","aud":"app","iat":1700000000,"exp":"1700000120","jti":"j","sid":"s","events":{"http://schemas.openid.net/event/backchannel-logout":{}}}`,
	`{"iss":"https://op.example.com/","aud":"app","iat":1700000000,"jti":"j","sid":"s","events":{"http://schemas.openid.net/event/backchannel-logout":{}}}{"sid":"t"}`,
	`{"iss":"https://op.example.com/","aud":"app","iat":1700000000,"jti":"j","sid":"s","sid":"t","events":{"http://schemas.openid.net/event/backchannel-logout":{}}}`,
	`{"iss":"https://op.example.com/","aud":"app","iat":1.7e9,"jti":"j","sid":"s","nonce":null,"events":{"http://schemas.openid.net/event/backchannel-logout":{}}}`,
}

// FuzzLogoutTokenClaims checks that reading any payload never panics, and
// that a payload it accepts means what an independent, case-sensitive
// reading of it says: one JSON object, nothing after it, no member name
// twice, iss and aud as configured, iat (and exp) JSON numbers within the
// window, the event, no nonce, jti, and sid or sub as returned.
func FuzzLogoutTokenClaims(f *testing.F) {
	for _, p := range fuzzPayloads {
		f.Add([]byte(p))
	}
	h, v := fuzzHandler(f)
	f.Fuzz(func(t *testing.T, payload []byte) {
		tok, err := h.claimsOf(v, payload)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %v does not wrap ErrInvalidToken", err)
			}
			return
		}
		if msg := acceptable(payload, tok); msg != "" {
			t.Fatalf("accepted %q: %s", payload, msg)
		}
	})
}

// acceptable reads payload independently of checkClaims and says what, if
// anything, makes accepting it as tok wrong.
func acceptable(payload []byte, tok *LogoutToken) string {
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil { // refuses trailing data
		return "not exactly one JSON object: " + err.Error()
	}
	if duplicateNames(payload) {
		return "a member name appears twice"
	}
	str := func(name string) (string, bool) {
		var s string
		raw, ok := claims[name]
		return s, ok && bytes.HasPrefix(raw, []byte(`"`)) && json.Unmarshal(raw, &s) == nil
	}
	num := func(name string) (float64, bool) {
		var n float64
		raw, ok := claims[name]
		return n, ok && !bytes.HasPrefix(raw, []byte(`"`)) && json.Unmarshal(raw, &n) == nil
	}
	if iss, ok := str("iss"); !ok || (iss != fuzzIssuer && iss != strings.TrimSuffix(fuzzIssuer, "/")) || tok.Issuer != iss {
		return "iss is neither the issuer nor the issuer without its trailing slash"
	}
	var aud any
	if json.Unmarshal(claims["aud"], &aud) != nil || !audienceHas(aud, fuzzClientID) {
		return "aud lacks the client_id"
	}
	iat, ok := num("iat")
	if !ok || tok.IssuedAt.Unix() != int64(iat) {
		return "iat is not the JSON number given"
	}
	if d := fuzzNow.Sub(time.Unix(int64(iat), 0)); d > defaultMaxAge+defaultSkew+time.Second || d < -defaultSkew-time.Second {
		return "iat outside the window"
	}
	if _, present := claims["exp"]; present {
		if exp, ok := num("exp"); !ok || !fuzzNow.Before(time.Unix(int64(exp)+1, 0).Add(defaultSkew)) {
			return "exp is not a JSON number in the future"
		}
	}
	var events map[string]json.RawMessage
	if json.Unmarshal(claims["events"], &events) != nil || !bytes.HasPrefix(bytes.TrimSpace(events[EventBackChannelLogout]), []byte("{")) {
		return "no back-channel logout event object"
	}
	if _, ok := claims["nonce"]; ok {
		return "nonce is present"
	}
	jti, ok := str("jti")
	sid, _ := str("sid")
	sub, _ := str("sub")
	if !ok || jti == "" || jti != tok.JTI || sid != tok.SID || sub != tok.Subject || (sid == "" && sub == "") {
		return "jti, sid or sub differ from the payload's"
	}
	return ""
}

func audienceHas(aud any, clientID string) bool {
	switch a := aud.(type) {
	case string:
		return a == clientID
	case []any:
		for _, v := range a {
			if s, ok := v.(string); ok && s == clientID {
				return true
			}
		}
	}
	return false
}

// duplicateNames reports whether the top-level object of data, or its
// events object, has a member name twice.
func duplicateNames(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if dec.Decode(&v) != nil {
			return false
		}
		if seen[name] || (name == "events" && duplicateNames(v)) {
			return true
		}
		seen[name] = true
	}
	return false
}

// FuzzVerify checks that verifying any string never panics and fails
// only with ErrInvalidToken (the keys are cached, so never ErrKeys), and
// that a payload signed with the client secret is accepted exactly when
// its claims are.
func FuzzVerify(f *testing.F) {
	h, v := fuzzHandler(f)
	f.Add("eyJhbGciOiJub25lIn0.e30.", []byte(fuzzPayloads[0]))
	f.Add("a.b.c", []byte(fuzzPayloads[1]))
	f.Add("eyJhbGciOiJIUzI1NiJ9.e30.c2ln", []byte(fuzzPayloads[5]))
	f.Add(strings.Repeat(".", 2), []byte("{}"))
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte(fuzzSecret)}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw string, payload []byte) {
		if _, err := h.Verify(context.Background(), raw); err != nil && !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("Verify(%q): error %v does not wrap ErrInvalidToken", raw, err)
		}
		jws, err := signer.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		signed, err := jws.CompactSerialize()
		if err != nil {
			t.Fatal(err)
		}
		_, verifyErr := h.Verify(context.Background(), signed)
		_, claimsErr := h.claimsOf(v, payload)
		if (verifyErr == nil) != (claimsErr == nil) {
			t.Fatalf("payload %q: Verify says %v, the claims check %v", payload, verifyErr, claimsErr)
		}
	})
}
