package logout

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzStateCookie checks that any value the state cookie is issued with
// parses back to the same state and return target, and that parsing any
// cookie value never panics.
func FuzzStateCookie(f *testing.F) {
	f.Add("s1", "/account?tab=1", "s1.L2FjY291bnQ")
	f.Add("AAAA", "", ".")
	f.Add("x", "//evil.com", "x.%%%")
	sc := newStateCookie(true)
	f.Fuzz(func(t *testing.T, state, returnTo, raw string) {
		_, _, _ = parseStateCookie(raw)
		if state == "" || strings.Contains(state, ".") {
			return // states are base64url: never empty, never a dot
		}
		c := sc.issue(state, returnTo)
		gotState, gotReturnTo, ok := parseStateCookie(c.Value)
		if !ok || gotState != state || gotReturnTo != returnTo {
			t.Fatalf("issue(%q, %q) parsed back as (%q, %q, %v)", state, returnTo, gotState, gotReturnTo, ok)
		}
	})
}

// FuzzIDTokenClaims checks that reading the claims of whatever a session
// holds as its id_token never panics, and that a well-formed token gives
// back its claims.
func FuzzIDTokenClaims(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEifQ.c2ln", "user-1", "sid-1", int64(1700000000))
	f.Add("a.b.c", "", "", int64(0))
	f.Add("..", "\x00", "é", int64(-1))
	f.Fuzz(func(t *testing.T, raw, sub, sid string, iat int64) {
		_ = idTokenClaims(raw, true)
		if !utf8.ValidString(sub) || !utf8.ValidString(sid) || iat <= 0 || iat > 1<<40 {
			return
		}
		tok := FakeJWTForTest(t, map[string]any{"sub": sub, "sid": sid, "iat": iat})
		cl := idTokenClaims(tok, true)
		if cl.Subject != sub || cl.SID != sid || !cl.IssuedAt.Equal(time.Unix(iat, 0)) || cl.TokenHash == "" {
			t.Fatalf("claims of %q: got %+v", tok, cl)
		}
	})
}

// FuzzIDTokenPayload checks, for any payload, that the session check reads
// an id_token's iss, sub, sid and iat as a case-sensitive reading by exact
// name does: "SID" or "ſid" is not sid, a claim of the wrong type spoils
// the reading as it would a struct's, iat counts only as a JSON number,
// and nothing is read from a payload that is not exactly one JSON value.
func FuzzIDTokenPayload(f *testing.F) {
	f.Add([]byte(`{"iss":"https://op","sub":"u","sid":"s","iat":1700000000}`))
	f.Add([]byte(`{"SID":"s","Iss":"https://evil","sUb":"x","IAT":1}`))
	f.Add([]byte(`{"sid":"a","SID":"b"}`))
	f.Add([]byte("{\"\u017fid\":\"long s\"}"))
	f.Add([]byte(`{"\u0053ID":"escaped","s\u0069d":"exact"}`))
	f.Add([]byte(`{"sid":"s","iat":"1700000000"}`))
	f.Add([]byte(`{"sid":"s"}{"sid":"t"}`))
	f.Add([]byte(`{"sid":5,"sub":"u"}`))
	enc := base64.RawURLEncoding.EncodeToString
	f.Fuzz(func(t *testing.T, payload []byte) {
		got := idTokenClaims(enc([]byte(`{"alg":"RS256"}`))+"."+enc(payload)+".c2ln", false)
		if want := exactClaims(payload); got != want {
			t.Fatalf("claims of %q: got %+v, want %+v", payload, got, want)
		}
	})
}

// exactClaims reads iss, sub, sid and iat from payload by exact name.
func exactClaims(payload []byte) sessionClaims {
	var m map[string]json.RawMessage
	if json.Unmarshal(payload, &m) != nil {
		return sessionClaims{}
	}
	var cl sessionClaims
	for name, dst := range map[string]*string{"iss": &cl.Issuer, "sub": &cl.Subject, "sid": &cl.SID} {
		if raw, ok := m[name]; ok && json.Unmarshal(raw, dst) != nil {
			return sessionClaims{}
		}
	}
	var iat float64
	if raw := m["iat"]; len(raw) > 0 && raw[0] != '"' && json.Unmarshal(raw, &iat) == nil && iat > 0 {
		cl.IssuedAt = time.Unix(int64(iat), 0)
	}
	return cl
}

// FuzzCrossSiteCheck checks the cross-site rule for any header values and
// method: a logout request passes exactly when http.CrossOriginProtection
// would let the same request through as a POST (it lets every GET
// through), and a cross-site request passes only from a trusted origin.
func FuzzCrossSiteCheck(f *testing.F) {
	f.Add("GET", "same-origin", "")
	f.Add("GET", "cross-site", "")
	f.Add("POST", "cross-site", "https://evil.example")
	f.Add("POST", "", "https://app.example.com")
	f.Add("HEAD", "", "null")
	f.Add("GET", "same-site", "https://portal.example.com")
	f.Add("POST", "", "://app.example.com")
	f.Add("GET", "", "HTTP://APP.example.com")
	cop := http.NewCrossOriginProtection()
	if err := cop.AddTrustedOrigin("https://portal.example.com"); err != nil {
		f.Fatal(err)
	}
	m, err := New(testConfig(newTestStore(), func(c *Config) { c.CrossOriginProtection = cop }))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, method, fetchSite, origin string) {
		if method != http.MethodGet && method != http.MethodHead && method != http.MethodPost {
			return
		}
		r := httptest.NewRequest(method, "https://app.example.com/logout", nil)
		r.Header["Sec-Fetch-Site"] = []string{fetchSite}
		r.Header["Origin"] = []string{origin}
		passed := m.checkCrossSite(r) == nil
		post := httptest.NewRequest(http.MethodPost, "https://app.example.com/logout", nil)
		post.Header = r.Header
		if want := cop.Check(post) == nil; passed != want {
			t.Fatalf("%s, Sec-Fetch-Site %q, Origin %q: passed=%v, want %v", method, fetchSite, origin, passed, want)
		}
		if passed && (fetchSite == "cross-site" || fetchSite == "same-site") && origin != "https://portal.example.com" {
			t.Fatalf("%s, Sec-Fetch-Site %q, Origin %q passed", method, fetchSite, origin)
		}
	})
}

// FuzzFrontChannelParams checks the front-channel query rule for any raw
// query: it is accepted only when it decodes to exactly one iss, the
// issuer give or take a trailing slash, and exactly one sid, non-empty and
// at most 1024 bytes, and then it returns exactly those.
func FuzzFrontChannelParams(f *testing.F) {
	const issuer = "https://op.example.com"
	f.Add("iss=https%3A%2F%2Fop.example.com&sid=s1")
	f.Add("iss=https%3A%2F%2Fop.example.com%2F&sid=s1")
	f.Add("sid=s1&iss=https://op.example.com&sid=s2")
	f.Add("iss=https%3A%2F%2Fop.example.com&sid=")
	f.Add("iss=https%3A%2F%2Fop.example.com&sid=%zz")
	f.Add("iss=https%3A%2F%2Fop.example.com;sid=s1")
	f.Fuzz(func(t *testing.T, rawQuery string) {
		known := func(iss string) bool { return strings.TrimSuffix(iss, "/") == issuer }
		iss, sid, err := frontChannelParams(rawQuery, known)
		q, perr := url.ParseQuery(rawQuery)
		want := perr == nil && len(q["iss"]) == 1 && len(q["sid"]) == 1 &&
			strings.TrimSuffix(q.Get("iss"), "/") == issuer &&
			q.Get("sid") != "" && len(q.Get("sid")) <= 1024
		if (err == nil) != want {
			t.Fatalf("query %q: accepted=%v, want %v (err %v)", rawQuery, err == nil, want, err)
		}
		if err == nil && (iss != q.Get("iss") || sid != q.Get("sid")) {
			t.Fatalf("query %q: got iss %q sid %q", rawQuery, iss, sid)
		}
		if err != nil && !errors.Is(err, ErrFrontChannelRequest) {
			t.Fatalf("query %q: error %v does not wrap ErrFrontChannelRequest", rawQuery, err)
		}
	})
}

// FuzzHasQueryParam checks the quick test that decides whether a request
// to a callback that is also an app page may be the provider's return: it
// may say yes when there is no state, but never no when url.ParseQuery
// finds a non-empty state (the callback would then be skipped).
func FuzzHasQueryParam(f *testing.F) {
	f.Add("state=abc")
	f.Add("a=1&state=&state=x")
	f.Add("st%61te=x")
	f.Add("state")
	f.Add("x=%zz&state=1")
	f.Fuzz(func(t *testing.T, raw string) {
		got := hasQueryParam(raw, "state")
		q, _ := url.ParseQuery(raw)
		if q.Get("state") != "" && !got {
			t.Fatalf("hasQueryParam(%q) = false, but ParseQuery finds state %q", raw, q.Get("state"))
		}
	})
}
