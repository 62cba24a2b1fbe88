package provider

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Lifetimes of what the storage issues.
const (
	authRequestLifetime  = 10 * time.Minute
	accessTokenLifetime  = 10 * time.Minute
	refreshTokenLifetime = 8 * time.Hour
)

var errNotFound = errors.New("not found")

// storage is the provider's in-memory op.Storage. One mutex guards all of
// it: this provider serves a handful of requests per test.
type storage struct {
	key  *rsa.PrivateKey
	kid  string
	user user

	mu            sync.Mutex
	clients       map[string]Client
	authRequests  map[string]*authRequest
	codes         map[string]string // code -> auth request ID
	sessions      map[string]*browserSession
	accessTokens  map[string]*accessToken  // by ID
	refreshTokens map[string]*refreshToken // by token value
}

var (
	_ op.Storage                        = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*storage)(nil)
)

func newStorage(key *rsa.PrivateKey, u user) *storage {
	return &storage{
		key:           key,
		kid:           "key-1",
		user:          u,
		clients:       map[string]Client{},
		authRequests:  map[string]*authRequest{},
		codes:         map[string]string{},
		sessions:      map[string]*browserSession{},
		accessTokens:  map[string]*accessToken{},
		refreshTokens: map[string]*refreshToken{},
	}
}

func (s *storage) registerClient(c Client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients[c.ID] = c
}

// CreateAuthRequest stores a validated authorization request. With
// prompt=none it needs a live browser session, and answers login_required
// otherwise.
func (s *storage) CreateAuthRequest(ctx context.Context, r *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	id, err := randomToken()
	if err != nil {
		return nil, err
	}
	a := newAuthRequest(id, r)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(a.prompt) == 1 && a.prompt[0] == oidc.PromptNone {
		sess := s.liveSession(browserSessionID(ctx))
		if sess == nil || a.needsLogin(sess, time.Now()) {
			return nil, oidc.ErrLoginRequired()
		}
		a.complete(sess)
	}
	s.authRequests[id] = a
	copied := *a
	return &copied, nil
}

// AuthRequestByID returns a copy of a stored, unexpired request.
func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.authRequestLocked(id)
}

func (s *storage) authRequestLocked(id string) (*authRequest, error) {
	a, ok := s.authRequests[id]
	if !ok || time.Since(a.created) > authRequestLifetime {
		return nil, fmt.Errorf("auth request: %w", errNotFound)
	}
	copied := *a
	return &copied, nil
}

// AuthRequestByCode returns the request an authorization code was issued for.
func (s *storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.codes[code]
	if !ok {
		return nil, fmt.Errorf("authorization code: %w", errNotFound)
	}
	return s.authRequestLocked(id)
}

// SaveAuthCode remembers the code issued for a request.
func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.codes[code] = id
	return nil
}

// DeleteAuthRequest forgets a request and its code: codes are single-use.
func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.authRequests, id)
	for code, reqID := range s.codes {
		if reqID == id {
			delete(s.codes, code)
		}
	}
	return nil
}

// completeAuthRequest marks request id as authenticated in session sess.
func (s *storage) completeAuthRequest(id string, sess *browserSession) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.authRequests[id]
	if !ok {
		return fmt.Errorf("auth request: %w", errNotFound)
	}
	a.complete(sess)
	return nil
}

// SigningKey returns the RS256 signing key.
func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	return signingKey{key: s.key, kid: s.kid}, nil
}

// SignatureAlgorithms returns RS256.
func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

// KeySet returns the public signing key.
func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{key: &s.key.PublicKey, kid: s.kid}}, nil
}

// GetClientByClientID returns a registered client.
func (s *storage) GetClientByClientID(_ context.Context, clientID string) (op.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[clientID]
	if !ok {
		return nil, fmt.Errorf("client %q: %w", clientID, errNotFound)
	}
	return opClient{c}, nil
}

// AuthorizeClientIDSecret checks a confidential client's secret.
func (s *storage) AuthorizeClientIDSecret(_ context.Context, clientID, secret string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[clientID]
	if !ok || c.Secret == "" || c.Secret != secret {
		return errors.New("invalid client credentials")
	}
	return nil
}

// GetKeyByIDAndClientID is for private_key_jwt, which is not supported.
func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("private_key_jwt is not supported")
}

// ValidateJWTProfileScopes keeps the scopes as they are.
func (s *storage) ValidateJWTProfileScopes(_ context.Context, _ string, scopes []string) ([]string, error) {
	return scopes, nil
}

// GetPrivateClaimsFromScopes adds no private claims to access tokens.
func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

// Health reports the storage as healthy.
func (s *storage) Health(context.Context) error { return nil }

// signingKey is the provider's RS256 private key, as op.SigningKey.
type signingKey struct {
	key *rsa.PrivateKey
	kid string
}

// SignatureAlgorithm returns RS256.
func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }

// Key returns the private key.
func (k signingKey) Key() any { return k.key }

// ID returns the key ID.
func (k signingKey) ID() string { return k.kid }

// publicKey is the provider's public key, as op.Key, published at /keys.
type publicKey struct {
	key *rsa.PublicKey
	kid string
}

// ID returns the key ID.
func (k publicKey) ID() string { return k.kid }

// Algorithm returns RS256.
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }

// Use returns "sig".
func (k publicKey) Use() string { return "sig" }

// Key returns the public key.
func (k publicKey) Key() any { return k.key }
