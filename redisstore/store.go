package redisstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/gob"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
	"github.com/gorilla/sessions"
	"github.com/redis/go-redis/v9"
)

const (
	// DefaultKeyPrefix is the prefix of session keys when Store.KeyPrefix
	// is empty.
	DefaultKeyPrefix = "session:"
	// DefaultMaxAge is the default lifetime of a session, in seconds: 30
	// days, as in gorilla's stores.
	DefaultMaxAge = 86400 * 30
	// browserSessionTTL is how long Redis keeps a session whose cookie has
	// no Max-Age (Options.MaxAge 0) when the store's own MaxAge is not
	// positive either.
	browserSessionTTL = 24 * time.Hour
	idBytes           = 32
)

// ErrSessionEnded is returned by Store.Save for a session that was loaded
// from Redis but whose record is gone by the time it is saved: it was
// logged out (or expired) while the request ran. The session is not saved,
// so that a slow request cannot bring back a session that a logout ended.
var ErrSessionEnded = errors.New("redisstore: session ended while the request ran; not saved")

// Store is a gorilla/sessions Store that keeps session values in Redis and
// only the session id in the cookie. The id is 32 random bytes, base64url
// encoded, in a cookie signed (and, with an encryption key, encrypted) by
// securecookie; the values are gob-encoded under KeyPrefix + id and expire
// with the session's MaxAge. Saving a session with Options.MaxAge < 0
// deletes its key and expires its cookie, which is what the logout
// middleware does: the old cookie then finds no session.
//
// Values must be gob-encodable; register custom types with gob.Register.
// Get caches sessions in the request's sessions.Registry, as gorilla's own
// stores do. Create it with NewStore; it is safe for concurrent use.
type Store struct {
	// Codecs sign and optionally encrypt the session id cookie.
	Codecs []securecookie.Codec
	// Options is the default configuration of new sessions.
	Options *sessions.Options
	// KeyPrefix is prepended to session ids to make Redis keys. Default
	// DefaultKeyPrefix.
	KeyPrefix string
	// Timeout bounds each Redis call (the read of New, the write of Save,
	// the delete of a logout), whatever the client's
	// ContextTimeoutEnabled and ReadTimeout. Default DefaultTimeout.
	Timeout time.Duration

	client redis.UniversalClient
}

var _ sessions.Store = (*Store)(nil)

// NewStore returns a Store on client. The key pairs are those of
// securecookie.CodecsFromPairs: an authentication key of 32 or 64 bytes,
// then an optional encryption key, repeated for key rotation. New sessions
// get Path "/", MaxAge DefaultMaxAge, HttpOnly, Secure and SameSite=Lax;
// set Options.Secure to false for plain-http development.
func NewStore(client redis.UniversalClient, keyPairs ...[]byte) *Store {
	s := &Store{
		Codecs: securecookie.CodecsFromPairs(keyPairs...),
		Options: &sessions.Options{
			Path:     "/",
			MaxAge:   DefaultMaxAge,
			HttpOnly: true,
			Secure:   true,
			SameSite: http.SameSiteLaxMode,
		},
		KeyPrefix: DefaultKeyPrefix,
		client:    client,
	}
	s.MaxAge(DefaultMaxAge)
	return s
}

// MaxAge sets the lifetime of new sessions, in seconds, for the cookie, the
// Redis key and the signed timestamp in the cookie.
func (s *Store) MaxAge(age int) {
	s.Options.MaxAge = age
	for _, c := range s.Codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.MaxAge(age)
		}
	}
}

// Get returns the session called name, from the request's
// sessions.Registry when it was read earlier in the request.
func (s *Store) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New reads the session called name from the request's cookie and Redis,
// without the registry. It returns a new, empty session (IsNew) when there
// is no cookie or no record: a session that expired or was logged out is
// simply gone. It returns a new session and an error when the cookie
// cannot be decoded or Redis fails; in the latter case the session keeps
// the cookie's id, so that deleting it (a logout) fails too rather than
// leaving the record behind unnoticed.
func (s *Store) New(r *http.Request, name string) (*sessions.Session, error) {
	session := sessions.NewSession(s, name)
	opts := *s.Options
	session.Options = &opts
	session.IsNew = true
	c, err := r.Cookie(name)
	if err != nil {
		return session, nil
	}
	var id string
	if err := securecookie.DecodeMulti(name, c.Value, &id, s.Codecs...); err != nil {
		return session, fmt.Errorf("redisstore: session %q: cookie: %w", name, err)
	}
	values, err := s.load(r.Context(), id)
	if err != nil {
		// Keep the id: a logout must still delete the record, and fail
		// while Redis does, rather than report a session it could not end.
		session.ID = id
		return session, err
	}
	if values == nil {
		return session, nil
	}
	session.ID, session.Values, session.IsNew = id, values, false
	return session, nil
}

// load reads the values of session id; nil without error when it is gone.
func (s *Store) load(ctx context.Context, id string) (map[any]any, error) {
	var data []byte
	err := newBound(s.client, s.Timeout).do(ctx, func(ctx context.Context) error {
		var err error
		data, err = s.client.Get(ctx, s.key(id)).Bytes()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("redisstore: loading session: %w", err)
	}
	values := make(map[any]any)
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&values); err != nil {
		return nil, fmt.Errorf("redisstore: decoding session: %w", err)
	}
	return values, nil
}

// Save writes session to Redis and sets its cookie. With Options.MaxAge
// < 0 it deletes the record and expires the cookie instead, and forgets
// the session's id, so that saving it again later in the request starts a
// new session rather than reviving the deleted one. Saving a session whose
// record was deleted since it was loaded fails with ErrSessionEnded.
func (s *Store) Save(r *http.Request, w http.ResponseWriter, session *sessions.Session) error {
	if session.Options == nil {
		opts := *s.Options
		session.Options = &opts
	}
	if session.Options.MaxAge < 0 {
		return s.delete(r.Context(), w, session)
	}
	fresh := session.ID == ""
	if fresh {
		id, err := newID()
		if err != nil {
			return err
		}
		session.ID = id
	}
	if err := s.store(r.Context(), session, fresh); err != nil {
		if fresh {
			session.ID = ""
		}
		return err
	}
	encoded, err := securecookie.EncodeMulti(session.Name(), session.ID, s.Codecs...)
	if err != nil {
		return fmt.Errorf("redisstore: session %q: cookie: %w", session.Name(), err)
	}
	http.SetCookie(w, sessions.NewCookie(session.Name(), encoded, session.Options))
	return nil
}

// store writes the values of session: a fresh session only if its id is
// unused, an existing one only if its record still exists.
func (s *Store) store(ctx context.Context, session *sessions.Session, fresh bool) error {
	var buf bytes.Buffer
	if err := gob.NewEncoder(&buf).Encode(session.Values); err != nil {
		return fmt.Errorf("redisstore: session %q: encoding values: %w", session.Name(), err)
	}
	args := redis.SetArgs{TTL: s.ttl(session.Options.MaxAge), Mode: "XX"}
	if fresh {
		args.Mode = "NX"
	}
	key, data := s.key(session.ID), buf.Bytes() // the call may outlive this function
	err := newBound(s.client, s.Timeout).do(ctx, func(ctx context.Context) error {
		return s.client.SetArgs(ctx, key, data, args).Err()
	})
	switch {
	case errors.Is(err, redis.Nil) && fresh:
		return fmt.Errorf("redisstore: session %q: new id already in use", session.Name())
	case errors.Is(err, redis.Nil):
		return fmt.Errorf("session %q: %w", session.Name(), ErrSessionEnded)
	case err != nil:
		return fmt.Errorf("redisstore: saving session %q: %w", session.Name(), err)
	}
	return nil
}

// delete removes the record of session and expires its cookie.
func (s *Store) delete(ctx context.Context, w http.ResponseWriter, session *sessions.Session) error {
	if session.ID != "" {
		key := s.key(session.ID) // the call may outlive this function
		err := newBound(s.client, s.Timeout).do(ctx, func(ctx context.Context) error {
			return s.client.Del(ctx, key).Err()
		})
		if err != nil {
			return fmt.Errorf("redisstore: deleting session %q: %w", session.Name(), err)
		}
	}
	session.ID = ""
	http.SetCookie(w, sessions.NewCookie(session.Name(), "", session.Options))
	return nil
}

// ttl returns how long Redis keeps a session with the given MaxAge (> 0).
func (s *Store) ttl(maxAge int) time.Duration {
	switch {
	case maxAge > 0:
		return time.Duration(maxAge) * time.Second
	case s.Options.MaxAge > 0:
		return time.Duration(s.Options.MaxAge) * time.Second
	default:
		return browserSessionTTL
	}
}

func (s *Store) key(id string) string {
	if s.KeyPrefix == "" {
		return DefaultKeyPrefix + id
	}
	return s.KeyPrefix + id
}

// newID returns a new session id: 32 random bytes, base64url encoded.
func newID() (string, error) {
	b := make([]byte, idBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("redisstore: new session id: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}
