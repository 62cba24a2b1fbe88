package backchannel_test

// The OpenID Foundation certifies a Relying Party's logout with three test
// plans of its conformance suite: oidcc-client-rp-initiated-logout-rp,
// oidcc-client-back-channel-logout-rp and
// oidcc-client-front-channel-logout-rp. The tests below replay each test
// module of those plans against an app made of this repository's parts
// (the logout middleware with its session check and front-channel logout,
// and the back-channel handler, on one ledger), with a stand-in
// for the suite's OpenID Provider that does what the suite does
// (net.openid.conformance.openid.client.logout and
// condition.as.logout in openid-certification/conformance-suite):
//
//   - its issuer ends in a slash, and its JWKS publishes an RS256 and an
//     ES256 key;
//   - it issues id_tokens with a sid, signed with the client's
//     id_token_signed_response_alg (RS256, or HS256 with the client
//     secret);
//   - its end_session_endpoint checks that id_token_hint is an id_token it
//     issued, that post_logout_redirect_uri is registered and that state
//     was sent, then, if the client registered a backchannel_logout_uri,
//     POSTs a logout_token there before it answers the browser, and, if it
//     registered a frontchannel_logout_uri, answers with a page that loads
//     it in an iframe (with iss and sid) before going on to
//     post_logout_redirect_uri; otherwise it redirects there at once. The
//     state it sends back is the one it got, that state with "_INVALID"
//     appended, or none, as the test module says;
//   - its logout_tokens carry iss, sub, aud (the client_id, a string), jti,
//     sid, events, iat, exp = iat + 120 s and an unknown claim, under a
//     header of alg and kid only; its POST carries an unknown form
//     parameter next to logout_token; the broken tokens of the
//     back-channel plan are broken as the suite breaks them.
//
// The browser is a cookie jar that follows redirects one at a time; it
// loads the front-channel iframe without cookies, as a browser that blocks
// third-party cookies does. After each case the test checks what the plan
// requires (the status of the back-channel answer, exactly) and the
// sessions: the browser's own, which the RP-initiated logout ends; a copy
// of its session cookie taken before the logout, which the tombstones of
// that logout end (the app's cookie store is stateless); and a sibling,
// another session of the app signed in within the same provider session
// (the same sid) in another browser, which only a back-channel or
// front-channel logout the app recorded can end. The sibling is signed
// out after the good cases and untouched after the bad ones.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/gorilla/sessions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/oidc-logout/logout"
	"github.com/oidc-logout/logout/backchannel"
)

// Paths of the app under test.
const (
	rpLogoutPath       = "/logout"
	rpCallbackPath     = "/logout/callback"
	rpBackChannelPath  = "/backchannel-logout"
	rpFrontChannelPath = "/frontchannel-logout"
	rpReturnTo         = "/goodbye"
	rpSessionName      = "rp_session"
)

// clientAlgs are the id_token_signed_response_alg values each plan is
// replayed with: RS256 (the default) and HS256 with the client secret
// (GenAuth apps).
var clientAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.HS256}

// stateMode is what the suite's end_session_endpoint does with state.
type stateMode int

const (
	stateSame    stateMode = iota // sends back the state it got
	stateInvalid                  // appends "_INVALID" (AddInvalidStateToPostLogoutRedirectUriParams)
	stateNone                     // sends no state (RemoveStateFromPostLogoutRedirectUriParams)
)

// TestOIDCCClientRPInitiatedLogoutRP replays the test plan
// oidcc-client-rp-initiated-logout-rp. The client registers both a
// backchannel_logout_uri and a frontchannel_logout_uri, so the suite sends
// a back-channel logout and shows the front-channel page in each case. In
// all three cases the user is signed out, here and by the provider's
// logout; a wrong or missing state never reaches the return target.
func TestOIDCCClientRPInitiatedLogoutRP(t *testing.T) {
	cases := []struct {
		module string
		state  stateMode
	}{
		{"oidcc-client-test-rp-init-logout", stateSame},
		{"oidcc-client-test-rp-init-logout-other-state", stateInvalid},
		{"oidcc-client-test-rp-init-logout-no-state", stateNone},
	}
	for _, alg := range clientAlgs {
		t.Run(string(alg), func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.module, func(t *testing.T) {
					env := newConformanceEnv(t, alg, clientChannels{back: true, front: true})
					res := env.run(t, tc.state, nil)

					require.Len(t, res.backChannel, 1, "the suite sent one back-channel logout")
					assertBackChannelAnswer(t, res.backChannel[0], http.StatusOK)
					require.Len(t, res.frontChannel, 1, "the suite's page loaded the front-channel URI")
					assertFrontChannelAnswer(t, res.frontChannel[0])

					if tc.state == stateSame {
						res.assertReachedReturnTarget(t)
					} else {
						res.assertRefusedCallback(t)
					}
					env.assertSignedOut(t, "the browser's session")
					env.assertCopySignedOut(t, res)
				})
			}
		})
	}
}

// TestOIDCCClientBackChannelLogoutRP replays the test plan
// oidcc-client-back-channel-logout-rp: after the RP-initiated logout, the
// suite POSTs a logout_token, valid or broken, and requires exactly 200
// (with Cache-Control: no-store) for the valid one and exactly 400 for
// each broken one. The session the token names is signed out after the
// valid one, and untouched after the broken ones.
func TestOIDCCClientBackChannelLogoutRP(t *testing.T) {
	cases := []struct {
		module     string
		breakToken func(c *tokenDraft) // how the suite breaks the token; nil: valid
	}{
		{"oidcc-client-test-rp-backchannel-rpinitlogout", nil},
		{"oidcc-client-test-rp-backchannel-rpinitlogout-alg-none", func(c *tokenDraft) { c.signNone = true }},
		{"oidcc-client-test-rp-backchannel-rpinitlogout-no-event", func(c *tokenDraft) { delete(c.claims, "events") }},
		{"oidcc-client-test-rp-backchannel-rpinitlogout-with-nonce", func(c *tokenDraft) {
			c.claims["nonce"] = "logout_tokens_must_not_contain_a_nonce"
		}},
		{"oidcc-client-test-rp-backchannel-rpinitlogout-wrong-alg", func(c *tokenDraft) { c.wrongAlg = true }},
		{"oidcc-client-test-rp-backchannel-rpinitlogout-wrong-aud", func(c *tokenDraft) {
			c.claims["aud"] = c.claims["aud"].(string) + "INVALID"
		}},
		{"oidcc-client-test-rp-backchannel-rpinitlogout-wrong-event", func(c *tokenDraft) {
			c.claims["events"] = map[string]any{"http://schemas.openid.net/event/foobar": map[string]any{}}
		}},
		{"oidcc-client-test-rp-backchannel-rpinitlogout-wrong-iss", func(c *tokenDraft) {
			c.claims["iss"] = c.claims["iss"].(string) + "INVALID"
		}},
	}
	for _, alg := range clientAlgs {
		t.Run(string(alg), func(t *testing.T) {
			for _, tc := range cases {
				t.Run(tc.module, func(t *testing.T) {
					env := newConformanceEnv(t, alg, clientChannels{back: true})
					res := env.run(t, stateSame, tc.breakToken)

					require.Len(t, res.backChannel, 1, "the suite sent one back-channel logout")
					call := res.backChannel[0]
					res.assertReachedReturnTarget(t)
					env.assertSignedOut(t, "the browser's session (RP-initiated logout)")
					if tc.breakToken == nil {
						assertBackChannelAnswer(t, call, http.StatusOK)
						env.assertCopySignedOut(t, res)
						return
					}
					assertBackChannelAnswer(t, call, http.StatusBadRequest)
					assert.Contains(t, call.body, `"error":"invalid_request"`)
					env.assertCopyUntouched(t, res)
				})
			}
		})
	}
}

// TestOIDCCClientFrontChannelLogoutRP replays the test plan
// oidcc-client-front-channel-logout-rp: the suite's end_session_endpoint
// answers with a page that loads the app's frontchannel_logout_uri, with
// iss and sid, in an iframe, then goes on to post_logout_redirect_uri.
func TestOIDCCClientFrontChannelLogoutRP(t *testing.T) {
	for _, alg := range clientAlgs {
		t.Run(string(alg), func(t *testing.T) {
			t.Run("oidcc-client-test-rp-frontchannel-rpinitlogout", func(t *testing.T) {
				env := newConformanceEnv(t, alg, clientChannels{front: true})
				res := env.run(t, stateSame, nil)

				assert.Empty(t, res.backChannel)
				require.Len(t, res.frontChannel, 1, "the suite's page loaded the front-channel URI")
				fc := res.frontChannel[0]
				assertFrontChannelAnswer(t, fc)
				q := fc.url.Query()
				assert.Equal(t, env.op.issuer, q.Get("iss"))
				assert.Equal(t, res.sid, q.Get("sid"))
				res.assertReachedReturnTarget(t)
				env.assertSignedOut(t, "the browser's session")
				env.assertCopySignedOut(t, res)
			})
		})
	}
}

// clientChannels says which logout URIs the client registered.
type clientChannels struct{ back, front bool }

// conformanceEnv is one test module's world: the suite's provider, the
// app, and a browser.
type conformanceEnv struct {
	op      *suiteOP
	app     *rpApp
	browser *suiteBrowser
}

func newConformanceEnv(t *testing.T, alg jose.SignatureAlgorithm, ch clientChannels) *conformanceEnv {
	t.Helper()
	var appHandler http.Handler
	appSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		appHandler.ServeHTTP(w, r)
	}))
	t.Cleanup(appSrv.Close)
	client := suiteClient{
		id:                    "rp-" + rand.Text()[:8],
		secret:                rand.Text() + rand.Text(), // 52 characters: enough for HS256
		alg:                   alg,
		postLogoutRedirectURI: appSrv.URL + rpCallbackPath,
	}
	if ch.back {
		client.backChannelURI = appSrv.URL + rpBackChannelPath
	}
	if ch.front {
		client.frontChannelURI = appSrv.URL + rpFrontChannelPath
	}
	op := startSuiteOP(t, client)
	app := newRPApp(t, op, appSrv.URL)
	appHandler = app.handler
	return &conformanceEnv{op: op, app: app, browser: newSuiteBrowser(t)}
}

// caseResult is what happened in one replayed test module.
type caseResult struct {
	env  *conformanceEnv
	sid  string
	copy *http.Cookie // the session cookie as it was before the logout
	// sibling is the cookie of another session of the app with the same
	// sid, signed in without the browser's cookies.
	sibling *http.Cookie
	// hops are the browser's requests from the logout on, in order.
	hops []*http.Response
	// backChannel and frontChannel are the app's answers to the suite.
	backChannel  []backChannelAnswer
	frontChannel []frontChannelAnswer
}

// run signs a user in, then logs out as the test module does: the
// browser opens the app's logout, the suite's end_session_endpoint does
// its part (with the logout_token broken by breakToken, if any, and state
// per mode), and the browser follows wherever that leads.
func (env *conformanceEnv) run(t *testing.T, mode stateMode, breakToken func(*tokenDraft)) *caseResult {
	t.Helper()
	env.op.setCase(mode, breakToken)
	b, app := env.browser, env.app

	b.get(t, app.url+"/login?sub=alice")
	home := b.get(t, app.url+"/")
	require.Equal(t, "signed in as alice", readBody(t, home), "signed in before the logout")
	copyOf, ok := b.cookie(app.url, rpSessionName)
	require.True(t, ok, "the session cookie")
	sid := env.op.lastSID()
	require.NotEmpty(t, sid)

	res := &caseResult{env: env, sid: sid, copy: copyOf, sibling: app.loginSibling(t, "alice", sid)}
	require.Equal(t, "signed in as alice", app.getWith(t, "/", res.sibling), "the sibling is signed in before the logout")
	logoutResp := b.get(t, app.url+rpLogoutPath+"?return_to="+rpReturnTo)
	require.Equal(t, http.StatusFound, logoutResp.StatusCode, "the app's logout redirects to the provider")
	assert.Contains(t, logoutResp.Header.Get("Cache-Control"), "no-store")
	res.hops = append(res.hops, logoutResp)
	res.hops = append(res.hops, b.follow(t, logoutResp)...)
	if page := res.hops[len(res.hops)-1]; env.op.isFrontChannelPage(page) {
		// The suite's page: the iframe loads, then the page goes on.
		fcURL, next := env.op.parseFrontChannelPage(t, page)
		res.frontChannel = append(res.frontChannel, b.loadFrame(t, fcURL))
		resp := b.get(t, next)
		res.hops = append(res.hops, resp)
		res.hops = append(res.hops, b.follow(t, resp)...)
	}
	res.backChannel = env.op.takeBackChannel()
	require.Empty(t, env.op.takeErrors(), "the suite's checks of the end-session request")
	return res
}

// assertReachedReturnTarget checks that the logout ended at the return
// target, after the callback checked the state.
func (r *caseResult) assertReachedReturnTarget(t *testing.T) {
	t.Helper()
	last := r.hops[len(r.hops)-1]
	require.Equal(t, rpReturnTo, last.Request.URL.Path, "the logout ends at the return target")
	assert.Equal(t, http.StatusOK, last.StatusCode)
	_, stateLeft := r.env.browser.cookie(r.env.app.url+rpCallbackPath, "logout_state")
	assert.False(t, stateLeft, "the state cookie is deleted once the state matched")
}

// assertRefusedCallback checks that a wrong or missing state ended on the
// default landing page ("/"), by way of the callback, and that no request
// went to the return target.
func (r *caseResult) assertRefusedCallback(t *testing.T) {
	t.Helper()
	last := r.hops[len(r.hops)-1]
	assert.Equal(t, http.StatusOK, last.StatusCode, "a wrong or missing state lands on a real page")
	assert.Equal(t, "/", last.Request.URL.Path)
	require.GreaterOrEqual(t, len(r.hops), 2)
	assert.Equal(t, rpCallbackPath, r.hops[len(r.hops)-2].Request.URL.Path)
	for _, h := range r.hops {
		assert.NotEqual(t, rpReturnTo, h.Request.URL.Path, "never at the return target")
		if loc, err := h.Location(); err == nil {
			assert.NotEqual(t, rpReturnTo, loc.Path, "never sent to the return target")
		}
	}
}

// assertSignedOut checks that the browser's next request is signed out.
func (env *conformanceEnv) assertSignedOut(t *testing.T, what string) {
	t.Helper()
	assert.Equal(t, "signed out", readBody(t, env.browser.get(t, env.app.url+"/")), what)
}

// assertCopySignedOut checks that the app recorded the provider's logout
// of the session's sid, so that a copy of the session cookie taken before
// the logout, and every other session of the sid, is signed out.
func (env *conformanceEnv) assertCopySignedOut(t *testing.T, r *caseResult) {
	t.Helper()
	assert.True(t, env.app.revoked(t, r.sid), "the sid is recorded as logged out")
	assert.Equal(t, "signed out", env.app.getWith(t, "/", r.copy), "the pre-logout copy of the session cookie")
	assert.Equal(t, "signed out", env.app.getWith(t, "/", r.sibling), "another session of the sid")
}

// assertCopyUntouched checks that nothing was recorded about the session's
// sid (nor the token's jti), so that another session of the sid is still
// signed in; a copy of the session cookie taken before the logout is
// signed out by the RP-initiated logout's tombstones alone.
func (env *conformanceEnv) assertCopyUntouched(t *testing.T, r *caseResult) {
	t.Helper()
	assert.False(t, env.app.revoked(t, r.sid), "nothing recorded for the sid")
	assert.False(t, env.app.revoked(t, logout.JTIKey(env.op.issuer, env.op.lastJTI())), "the jti is not recorded")
	assert.Equal(t, "signed in as alice", env.app.getWith(t, "/", r.sibling), "another session of the sid")
	assert.Equal(t, "signed out", env.app.getWith(t, "/", r.copy), "the pre-logout copy of the session cookie (tombstoned)")
}

// backChannelAnswer is the app's answer to the suite's back-channel POST.
type backChannelAnswer struct {
	status int
	header http.Header
	body   string
}

func assertBackChannelAnswer(t *testing.T, a backChannelAnswer, status int) {
	t.Helper()
	assert.Equal(t, status, a.status, "back-channel answer: %s", a.body)
	// EnsureBackChannelLogoutEndpointResponseContainsCacheHeaders
	assert.Contains(t, a.header.Get("Cache-Control"), "no-store")
	assert.Contains(t, a.header.Get("Cache-Control"), "no-cache")
	assert.Equal(t, "no-cache", a.header.Get("Pragma"))
}

// frontChannelAnswer is the app's answer to the front-channel iframe.
type frontChannelAnswer struct {
	url    *url.URL
	status int
	header http.Header
}

func assertFrontChannelAnswer(t *testing.T, a frontChannelAnswer) {
	t.Helper()
	assert.Equal(t, http.StatusOK, a.status)
	assert.Contains(t, a.header.Get("Cache-Control"), "no-store")
	assert.Empty(t, a.header.Get("X-Frame-Options"), "the page may be framed by the provider")
}

// suiteClient is the client registration the suite holds.
type suiteClient struct {
	id, secret                      string
	alg                             jose.SignatureAlgorithm // id_token_signed_response_alg
	postLogoutRedirectURI           string
	backChannelURI, frontChannelURI string
}

// tokenDraft is a logout token being made: its claims, and how it will
// be signed.
type tokenDraft struct {
	claims   map[string]any
	signNone bool // OIDCCSignLogoutTokenWithAlgNone
	wrongAlg bool // OIDCCSignLogoutTokenWithWrongAlgorithm
}

// suiteOP is the stand-in for the conformance suite's provider.
type suiteOP struct {
	issuer string
	client suiteClient
	rsa    signingKey // published, RS256
	ec     signingKey // published, ES256
	http   *http.Client

	mu         sync.Mutex
	mode       stateMode
	breakToken func(*tokenDraft)
	issued     map[string]string // id_token -> its sid
	sid, jti   string            // of the last id_token and logout token
	answers    []backChannelAnswer
	errs       []string
}

func startSuiteOP(t *testing.T, client suiteClient) *suiteOP {
	t.Helper()
	op := &suiteOP{
		client: client, rsa: newRSAKey(t, "rsa-"+rand.Text()[:6]), ec: newECKey(t, "ec-"+rand.Text()[:6]),
		http: &http.Client{Timeout: 10 * time.Second}, issued: map[string]string{},
	}
	const base = "/test/a/oidc-logout-rp/"
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+base+".well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, map[string]any{
			"issuer":                                op.issuer,
			"jwks_uri":                              op.issuer + "jwks",
			"end_session_endpoint":                  op.issuer + "end_session_endpoint",
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256", "HS256"},
			"backchannel_logout_supported":          true,
			"backchannel_logout_session_supported":  true,
			"frontchannel_logout_supported":         true,
			"frontchannel_logout_session_supported": true,
		})
	})
	mux.HandleFunc("GET "+base+"jwks", func(w http.ResponseWriter, _ *http.Request) {
		var set jose.JSONWebKeySet
		for _, k := range []signingKey{op.rsa, op.ec} {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
		}
		writeJSON(w, set)
	})
	mux.HandleFunc(base+"end_session_endpoint", op.endSession)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	op.issuer = srv.URL + base
	return op
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (op *suiteOP) setCase(mode stateMode, breakToken func(*tokenDraft)) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.mode, op.breakToken = mode, breakToken
}

// issueIDToken is the sign-in, which is not part of the logout plans: it
// returns an id_token for sub with a fresh sid (AddSidToIdTokenClaims),
// or with sid when it is not empty, signed with the client's algorithm.
func (op *suiteOP) issueIDToken(sub, sid string) string {
	if sid == "" {
		sid = rand.Text()
	}
	now := time.Now()
	claims := map[string]any{
		"iss": op.issuer, "sub": sub, "aud": op.client.id, "nonce": rand.Text(),
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "sid": sid,
	}
	raw := op.sign(claims, op.client.alg)
	op.mu.Lock()
	defer op.mu.Unlock()
	op.issued[raw], op.sid = sid, sid
	return raw
}

// endSession is the suite's end_session_endpoint (handleEndSessionEndpointRequest).
func (op *suiteOP) endSession(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	params := r.Form
	op.mu.Lock()
	sid, known := op.issued[params.Get("id_token_hint")]
	mode, breakToken := op.mode, op.breakToken
	op.mu.Unlock()
	// ValidateIdTokenHintInRPInitiatedLogoutRequest, ValidatePostLogoutRedirectUri,
	// EnsureEndSessionEndpointRequestContainsStateParameter
	if !known {
		op.fail("id_token_hint is not an id_token the suite issued")
	}
	if params.Get("post_logout_redirect_uri") != op.client.postLogoutRedirectURI {
		op.fail("post_logout_redirect_uri is not registered: " + params.Get("post_logout_redirect_uri"))
	}
	state := params.Get("state")
	if state == "" {
		op.fail("no state sent to the end_session_endpoint")
	}
	var logoutToken string
	if op.client.backChannelURI != "" {
		logoutToken = op.createLogoutToken(sid, breakToken) // before the session is removed
	}
	// CreatePostLogoutRedirectUriParams and the module's customization.
	redirect, _ := url.Parse(op.client.postLogoutRedirectURI)
	q := redirect.Query()
	switch mode {
	case stateSame:
		q.Set("state", state)
	case stateInvalid:
		q.Set("state", state+"_INVALID")
	case stateNone:
	}
	redirect.RawQuery = q.Encode()
	if logoutToken != "" {
		op.sendBackChannel(r.Context(), logoutToken)
	}
	if op.client.frontChannelURI != "" {
		op.writeFrontChannelPage(w, sid, redirect.String())
		return
	}
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

func (op *suiteOP) fail(msg string) {
	op.mu.Lock()
	defer op.mu.Unlock()
	op.errs = append(op.errs, msg)
}

func (op *suiteOP) takeErrors() []string {
	op.mu.Lock()
	defer op.mu.Unlock()
	errs := op.errs
	op.errs = nil
	return errs
}

// createLogoutToken is GenerateLogoutTokenClaims, the module's changes,
// and OIDCCSignLogoutToken (or its alg none and wrong-algorithm variants).
func (op *suiteOP) createLogoutToken(sid string, breakToken func(*tokenDraft)) string {
	iat := time.Now()
	c := &tokenDraft{claims: map[string]any{
		"iss":           op.issuer,
		"sub":           "alice",
		"aud":           op.client.id,
		"jti":           rand.Text(),
		"sid":           sid,
		"events":        map[string]any{backchannel.EventBackChannelLogout: map[string]any{}},
		"iat":           iat.Unix(),
		"exp":           iat.Add(2 * time.Minute).Unix(),
		"ignored_claim": "Logout Tokens MAY contain other Claims. Any Claims used that are not understood MUST be ignored.",
	}}
	if breakToken != nil {
		breakToken(c)
	}
	op.mu.Lock()
	op.jti, _ = c.claims["jti"].(string)
	op.mu.Unlock()
	payload, _ := json.Marshal(c.claims)
	switch {
	case c.signNone:
		return b64(`{"alg":"none"}`) + "." + b64(string(payload)) + "."
	case c.wrongAlg && op.client.alg == jose.RS256:
		return op.sign(c.claims, jose.ES256)
	case c.wrongAlg:
		return op.sign(c.claims, jose.RS256)
	default:
		return op.sign(c.claims, op.client.alg)
	}
}

// sign signs claims with alg: with the client secret for HS256, otherwise
// with the published key for alg, under a header of alg and kid only. A
// failure is recorded for the test to report.
func (op *suiteOP) sign(claims map[string]any, alg jose.SignatureAlgorithm) string {
	payload, _ := json.Marshal(claims)
	var key jose.SigningKey
	switch alg {
	case jose.HS256:
		key = jose.SigningKey{Algorithm: alg, Key: []byte(op.client.secret)}
	case jose.ES256:
		key = jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: op.ec.priv, KeyID: op.ec.kid}}
	default:
		key = jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: op.rsa.priv, KeyID: op.rsa.kid}}
	}
	s, err := jose.NewSigner(key, nil)
	if err != nil {
		op.fail("signing: " + err.Error())
		return ""
	}
	jws, err := s.Sign(payload)
	if err != nil {
		op.fail("signing: " + err.Error())
		return ""
	}
	out, _ := jws.CompactSerialize()
	return out
}

// sendBackChannel is CallRPBackChannelLogoutEndpoint: a form POST with
// logout_token and an extra parameter, as Spring's RestTemplate sends it.
func (op *suiteOP) sendBackChannel(ctx context.Context, token string) {
	form := url.Values{
		"logout_token": {token},
		"ignored_parameter": {"The POST body MAY contain other values in addition to logout_token. " +
			"Values that are not understood by the implementation MUST be ignored."},
	}
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodPost, op.client.backChannelURI, strings.NewReader(form.Encode()))
	if err != nil {
		op.fail(err.Error())
		return
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
	resp, err := op.http.Do(req)
	if err != nil {
		op.fail("back-channel request: " + err.Error())
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	op.mu.Lock()
	defer op.mu.Unlock()
	op.answers = append(op.answers, backChannelAnswer{status: resp.StatusCode, header: resp.Header, body: string(body)})
}

func (op *suiteOP) takeBackChannel() []backChannelAnswer {
	op.mu.Lock()
	defer op.mu.Unlock()
	a := op.answers
	op.answers = nil
	return a
}

func (op *suiteOP) lastSID() string {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.sid
}

func (op *suiteOP) lastJTI() string {
	op.mu.Lock()
	defer op.mu.Unlock()
	return op.jti
}

// frontChannelPage is the suite's oidccFrontChannelLogout page, reduced to
// what a browser acts on: the iframe, then the post-logout redirect.
var frontChannelPage = template.Must(template.New("fc").Parse(`<!doctype html>
<title>Front-channel logout</title>
<iframe id="rp-frontchannel" src="{{.Frame}}"></iframe>
<a id="post-logout" href="{{.Next}}">continue</a>
<script>document.getElementById('rp-frontchannel').onload = function () { location.href = {{.Next}}; };</script>
`))

var (
	frameSrc = regexp.MustCompile(`<iframe id="rp-frontchannel" src="([^"]*)"`)
	nextHref = regexp.MustCompile(`<a id="post-logout" href="([^"]*)"`)
)

// writeFrontChannelPage is CreateRPFrontChannelLogoutRequestUrl and
// createFrontChannelLogoutModelAndView.
func (op *suiteOP) writeFrontChannelPage(w http.ResponseWriter, sid, next string) {
	frame, _ := url.Parse(op.client.frontChannelURI)
	q := frame.Query()
	q.Set("iss", op.issuer)
	q.Set("sid", sid)
	frame.RawQuery = q.Encode()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = frontChannelPage.Execute(w, struct{ Frame, Next string }{frame.String(), next})
}

func (op *suiteOP) isFrontChannelPage(resp *http.Response) bool {
	return resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Request.URL.String(), op.issuer)
}

// parseFrontChannelPage returns the iframe's URL and the page's next stop.
func (op *suiteOP) parseFrontChannelPage(t *testing.T, resp *http.Response) (string, string) {
	t.Helper()
	body := readBody(t, resp)
	frame, next := frameSrc.FindStringSubmatch(body), nextHref.FindStringSubmatch(body)
	require.Len(t, frame, 2, "the iframe of the front-channel page")
	require.Len(t, next, 2, "the post-logout link of the front-channel page")
	return html.UnescapeString(frame[1]), html.UnescapeString(next[1])
}

// rpApp is the app under test: the logout middleware (session check,
// front-channel logout) wrapping the app's routes, the back-channel
// handler, and one ledger.
type rpApp struct {
	url     string
	op      *suiteOP
	store   *sessions.CookieStore
	revs    *logout.MemoryLedger
	handler http.Handler
}

func newRPApp(t *testing.T, op *suiteOP, appURL string) *rpApp {
	t.Helper()
	a := &rpApp{url: appURL, op: op, revs: newStore()}
	a.store = sessions.NewCookieStore([]byte(rand.Text()+rand.Text()), []byte(rand.Text()[:16]+rand.Text()[:16]))
	a.store.Options.HttpOnly, a.store.Options.SameSite = true, http.SameSiteLaxMode
	provider := logout.Provider{
		Issuer: op.issuer, ClientID: op.client.id, // end_session_endpoint and jwks_uri by discovery
		PostLogoutRedirectURI: appURL + rpCallbackPath,
	}
	if op.client.alg == jose.HS256 {
		provider.SigningAlgorithms, provider.ClientSecret = []string{"HS256"}, op.client.secret
	}
	m, err := logout.New(logout.Config{
		Store: a.store, SessionName: rpSessionName,
		Providers:        []logout.Provider{provider},
		SessionCheck:     &logout.SessionCheckConfig{Ledger: a.revs},
		FrontChannelPath: rpFrontChannelPath,
	})
	require.NoError(t, err)
	bc, err := backchannel.New(m, backchannel.Config{Ledger: a.revs})
	require.NoError(t, err)

	mux := http.NewServeMux()
	mux.Handle("POST "+rpBackChannelPath, bc)
	// The callback's visits that are not the provider's return (no state,
	// or a state that did not match) land on the default return target.
	mux.Handle(rpCallbackPath, m)
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		s, _ := a.store.Get(r, rpSessionName)
		s.Values["id_token"] = op.issueIDToken(r.URL.Query().Get("sub"), r.URL.Query().Get("sid"))
		s.Values["user"] = r.URL.Query().Get("sub")
		if err := s.Save(r, w); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/", http.StatusFound)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s, _ := a.store.Get(r, rpSessionName)
		if user, _ := s.Values["user"].(string); user != "" {
			fmt.Fprint(w, "signed in as ", user)
			return
		}
		fmt.Fprint(w, "signed out")
	})
	mux.HandleFunc("GET "+rpReturnTo, func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "goodbye") })
	a.handler = m.Wrap(mux)
	return a
}

// revoked reports whether the store holds a record of sid (or of key,
// when it is one already).
func (a *rpApp) revoked(t *testing.T, sidOrKey string) bool {
	t.Helper()
	key := sidOrKey
	if !strings.HasPrefix(key, "jti:") {
		key = logout.SIDKey(a.op.issuer, sidOrKey)
	}
	return revoked(t, a.revs, key, time.Time{})
}

// loginSibling signs sub in without cookies, in the provider session sid,
// and returns the new session's cookie.
func (a *rpApp) loginSibling(t *testing.T, sub, sid string) *http.Cookie {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, a.url+"/login?"+url.Values{"sub": {sub}, "sid": {sid}}.Encode(), nil)
	require.NoError(t, err)
	resp, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == rpSessionName {
			return c
		}
	}
	require.FailNow(t, "the sibling login set no session cookie")
	return nil
}

// getWith requests path with only the cookie c, as another tab holding a
// copy of it would, and returns the body.
func (a *rpApp) getWith(t *testing.T, path string, c *http.Cookie) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, a.url+path, nil)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return readBody(t, resp)
}

// suiteBrowser is a browser as far as these plans need one.
type suiteBrowser struct {
	client  *http.Client
	noJar   *http.Client // for third-party frames: no cookies
	maxHops int
}

func newSuiteBrowser(t *testing.T) *suiteBrowser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	stop := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &suiteBrowser{
		client:  &http.Client{Jar: jar, CheckRedirect: stop, Timeout: 10 * time.Second},
		noJar:   &http.Client{CheckRedirect: stop, Timeout: 10 * time.Second},
		maxHops: 10,
	}
}

// get requests target and returns the response, redirects not followed.
func (b *suiteBrowser) get(t *testing.T, target string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, target, nil)
	require.NoError(t, err)
	resp, err := b.client.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	return resp
}

// follow follows resp's redirects and returns the responses it got.
func (b *suiteBrowser) follow(t *testing.T, resp *http.Response) []*http.Response {
	t.Helper()
	var hops []*http.Response
	for range b.maxHops {
		loc, err := resp.Location()
		if err != nil {
			return hops
		}
		resp = b.get(t, loc.String())
		hops = append(hops, resp)
	}
	t.Fatalf("more than %d redirects", b.maxHops)
	return nil
}

// loadFrame loads a cross-site iframe without cookies.
func (b *suiteBrowser) loadFrame(t *testing.T, target string) frontChannelAnswer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, target, nil)
	require.NoError(t, err)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Sec-Fetch-Dest", "iframe")
	resp, err := b.noJar.Do(req)
	require.NoError(t, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	u, err := url.Parse(target)
	require.NoError(t, err)
	return frontChannelAnswer{url: u, status: resp.StatusCode, header: resp.Header}
}

func (b *suiteBrowser) cookie(rawURL, name string) (*http.Cookie, bool) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, false
	}
	i := slices.IndexFunc(b.client.Jar.Cookies(u), func(c *http.Cookie) bool { return c.Name == name })
	if i < 0 {
		return nil, false
	}
	return b.client.Jar.Cookies(u)[i], true
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	return string(body)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
