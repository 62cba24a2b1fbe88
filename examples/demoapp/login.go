package demoapp

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/gorilla/sessions"
	"golang.org/x/oauth2"
)

// Keys of the login session.
const (
	keyState    = "state"
	keyNonce    = "nonce"
	keyVerifier = "verifier"
	keyProvider = "provider"
)

// loginMaxAge bounds how long a login may take at the provider, in seconds.
const loginMaxAge = 10 * 60

// login starts the authorization code flow: it keeps a fresh state, nonce
// and PKCE verifier in the login session and redirects to the provider.
func (a *App) login(w http.ResponseWriter, r *http.Request) {
	n := 0
	if v := r.URL.Query().Get("provider"); v != "" {
		i, err := strconv.Atoi(v)
		if err != nil || i < 1 || i > len(a.idps) {
			a.fail(w, r, http.StatusBadRequest, fmt.Errorf("no provider %q", v))
			return
		}
		n = i - 1
	}
	state, err1 := randomString()
	nonce, err2 := randomString()
	if err := errors.Join(err1, err2); err != nil {
		a.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	verifier := oauth2.GenerateVerifier()
	sess := a.freshSession(LoginSessionName) // replaces a stale login cookie
	sess.Options.MaxAge = loginMaxAge
	sess.Values[keyState], sess.Values[keyNonce], sess.Values[keyVerifier] = state, nonce, verifier
	sess.Values[keyProvider] = n
	if err := sess.Save(r, w); err != nil {
		a.fail(w, r, http.StatusInternalServerError, fmt.Errorf("saving login session: %w", err))
		return
	}
	target := a.idps[n].oauth.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
}

// callback finishes the login: it checks state, redeems the code with the
// PKCE verifier, verifies the id_token and its nonce, and starts the app
// session with the raw tokens.
func (a *App) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		a.fail(w, r, http.StatusBadRequest, fmt.Errorf("the provider refused the login: %s: %s", e, q.Get("error_description")))
		return
	}
	loginSess, err := a.store.Get(r, LoginSessionName)
	if err != nil {
		a.fail(w, r, http.StatusBadRequest, fmt.Errorf("login session: %w", err))
		return
	}
	state, _ := loginSess.Values[keyState].(string)
	nonce, _ := loginSess.Values[keyNonce].(string)
	verifier, _ := loginSess.Values[keyVerifier].(string)
	n, _ := loginSess.Values[keyProvider].(int)
	if state == "" || subtle.ConstantTimeCompare([]byte(state), []byte(q.Get("state"))) != 1 || n < 0 || n >= len(a.idps) {
		a.fail(w, r, http.StatusBadRequest, errors.New("state does not match; start the login again"))
		return
	}
	tokens, idToken, err := a.redeem(r.Context(), a.idps[n], q.Get("code"), verifier, nonce)
	if err != nil {
		a.fail(w, r, http.StatusBadGateway, err)
		return
	}
	loginSess.Options.MaxAge = -1
	if err := a.startSession(w, r, tokens, idToken); err != nil {
		a.fail(w, r, http.StatusInternalServerError, err)
		return
	}
	if err := loginSess.Save(r, w); err != nil {
		a.fail(w, r, http.StatusInternalServerError, fmt.Errorf("clearing login session: %w", err))
		return
	}
	a.logger.LogAttrs(r.Context(), slog.LevelInfo, "demoapp: signed in", slog.String("sub", idToken.Subject))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, "/", http.StatusFound)
}

// userClaims are the id_token claims the app shows.
type userClaims struct {
	Name  string `json:"name"`
	Email string `json:"email"`
}

// redeem exchanges the code and verifies the id_token and its nonce.
func (a *App) redeem(ctx context.Context, p *idp, code, verifier, nonce string) (*oauth2.Token, *oidc.IDToken, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, a.client)
	tokens, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, nil, fmt.Errorf("redeeming the authorization code: %w", err)
	}
	raw, _ := tokens.Extra("id_token").(string)
	if raw == "" {
		return nil, nil, errors.New("the token response has no id_token")
	}
	idToken, err := p.verifier.Verify(oidc.ClientContext(ctx, a.client), raw)
	if err != nil {
		return nil, nil, fmt.Errorf("verifying the id_token: %w", err)
	}
	if nonce == "" || subtle.ConstantTimeCompare([]byte(idToken.Nonce), []byte(nonce)) != 1 {
		return nil, nil, errors.New("the id_token's nonce does not match")
	}
	return tokens, idToken, nil
}

// startSession stores the raw id_token (which the logout middleware sends
// as id_token_hint), the access and refresh tokens (which it revokes) and
// the claims the home page shows.
func (a *App) startSession(w http.ResponseWriter, r *http.Request, tokens *oauth2.Token, idToken *oidc.IDToken) error {
	var claims userClaims
	if err := idToken.Claims(&claims); err != nil {
		return fmt.Errorf("reading id_token claims: %w", err)
	}
	sess := a.freshSession(SessionName) // nothing of an older session survives
	raw, _ := tokens.Extra("id_token").(string)
	sess.Values[keyIDToken] = raw
	sess.Values[keyAccessToken] = tokens.AccessToken
	if tokens.RefreshToken != "" {
		sess.Values[keyRefreshToken] = tokens.RefreshToken
	}
	sess.Values[keySubject] = idToken.Subject
	sess.Values[keyName] = claims.Name
	sess.Values[keyEmail] = claims.Email
	// A random session id, so that a logout can refuse a copy of this
	// cookie taken before it (the session check's tombstones).
	a.logout.InitSession(sess)
	if err := sess.Save(r, w); err != nil {
		// securecookie refuses cookies over 4096 bytes: a provider with
		// large tokens needs a server-side store (see redisstore).
		return fmt.Errorf("saving session: %w", err)
	}
	return nil
}

func randomString() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("reading random bytes: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// freshSession returns an empty session with the store's options, whatever
// cookie the request carries.
func (a *App) freshSession(name string) *sessions.Session {
	sess := sessions.NewSession(a.store, name)
	opts := *a.store.Options
	sess.Options = &opts
	sess.IsNew = true
	return sess
}
