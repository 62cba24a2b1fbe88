// Package provider runs a real, embedded OpenID Provider on a loopback
// listener, for demos and tests of the logout middleware.
//
// It is built on github.com/zitadel/oidc/v3/pkg/op with a small in-memory
// storage of its own, and it supports what a relying party needs to
// exercise a complete sign-in and sign-out:
//
//   - discovery (/.well-known/openid-configuration) and JWKS (/keys);
//   - the authorization code flow, with PKCE (S256) and nonce, and refresh
//     tokens when offline_access is requested;
//   - a login page with one test user (Provider.Username, Provider.Password);
//   - a browser session at the provider: a second authorization request
//     from the same browser signs in without the login page (single
//     sign-on), unless prompt=login or max_age says otherwise, and
//     prompt=none answers login_required when there is no session;
//   - RP-Initiated Logout 1.0 at /end_session: id_token_hint,
//     client_id, post_logout_redirect_uri (checked against the client's
//     registered URIs) and state (returned to the client). Ending the
//     session really ends it: the browser's provider session is deleted,
//     its cookie expired, and the access and refresh tokens issued in it are
//     revoked, so that the next authorization request shows the login page;
//   - token revocation (RFC 7009) at /revoke, userinfo and introspection.
//
// Issued id_tokens carry a sid claim naming the provider session.
//
// The provider is addressed as http://localhost:PORT while it listens on
// 127.0.0.1 only, so that an app served on http://127.0.0.1:PORT is a
// different site, as in production.
//
// Typical use in a test:
//
//	p, err := provider.Start(ctx, provider.Config{
//		RedirectURIs:           []string{appURL + "/callback"},
//		PostLogoutRedirectURIs: []string{appURL + "/logout/callback"},
//	})
//	if err != nil { ... }
//	defer p.Close()
//	// p.Issuer(), p.ClientID(), p.ClientSecret(), p.Username(), p.Password()
//
// It is meant for loopback use only: keys and sessions live in memory, and
// the login page has no protection against password guessing.
package provider
