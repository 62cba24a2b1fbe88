// Package logout is OpenID Connect logout for Go web apps whose session
// lives in a gorilla/sessions store.
//
// A [Middleware] intercepts a logout path (default "/logout"). On GET or POST
// it reads the raw id_token from the user's session, deletes every value of
// the session and saves it with MaxAge -1 (which expires the cookie and
// deletes any server-side record), and answers 302 Found to the provider's
// end_session_endpoint (OpenID Connect RP-Initiated Logout 1.0) with
// id_token_hint, post_logout_redirect_uri, client_id and a fresh random
// state. The state also goes into a short-lived HttpOnly, SameSite=Lax
// cookie; when the provider sends the browser back to the callback path,
// the middleware compares the two in constant time, deletes the cookie, and
// redirects to the return target the user asked for at logout. The
// callback may be a dedicated path or any page of the app, "/" included:
// through [Middleware.Wrap], only the provider's return (a GET with a state parameter
// and the state cookie) is the middleware's, and every other request to
// that page is the app's. The state cookie is site-wide, so that its
// deletion at the callback makes Chromium drop signed-in pages from its
// back/forward cache, and the responses that end a logout carry
// Clear-Site-Data ("cache" by default; see [Config.ClearSiteData]).
//
// The app's OpenID providers, usually one, are the [Provider] values of
// [Config.Providers]: issuer, client, endpoints and post-logout redirect
// URI. Endpoints left empty are discovered from the issuer's
// /.well-known/openid-configuration at the first logout (or at start-up,
// with [Middleware.Discover]); for GenAuth (Authing) applications the
// end-session endpoint is {appHost}/oidc/session/end (see
// [GenAuthEndpoint]).
//
// Safe defaults:
//   - cross-origin requests to the logout path are refused
//     ([http.CrossOriginProtection], for GET too), so another site cannot
//     log users out; a link from another site gets a confirmation page;
//   - return targets are same-origin paths or allowlisted origins only;
//   - redirects carry Cache-Control: no-store and Referrer-Policy:
//     no-referrer, since the provider URL holds the id_token;
//   - a session cookie that cannot be decoded is still cleared, and a
//     failing Store.Save is an error, never a redirect that pretends the
//     user is logged out;
//   - tokens and states are never logged.
//
// Back-end logout is opt-in: [Config.Revocation] revokes the session's tokens
// at the session's provider (RFC 7009; a [Revoker] also works alone), and
// [Config.SessionCheck] looks every session up in a [Ledger], once
// per request, so that sessions the provider ended through back-channel
// logout (module github.com/oidc-logout/logout/backchannel) or front-channel
// logout ([Config.FrontChannelPath]), or copies of a cookie replayed after a
// logout, are signed out. The store is in memory
// ([NewMemoryLedger]) or shared by several instances in Redis (module
// github.com/oidc-logout/logout/redisstore).
//
// An app with several providers, or several tenants each with its own
// issuer, lists them all in [Config.Providers] or finds them with
// [Config.LookupProvider]: a logout goes to the provider whose issuer is
// the iss of the session's id_token, and a session of any other issuer is
// logged out locally, never sent to an endpoint its token names. The backchannel
// module's handler, given the Middleware, verifies each provider's logout
// tokens with that provider's keys and client_id.
//
// [BuildURL], [GenAuthEndpoint] and [NewState] are the pure building blocks, for
// apps that want to write the handler themselves.
package logout
