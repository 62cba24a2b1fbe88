// Package backchannel receives OpenID Connect Back-Channel Logout 1.0
// requests: the provider POSTs a signed logout_token when a user's session
// at the provider ends, and the Handler validates it (section 2.6 of the
// specification) and records the ended session in a logout.Ledger
// store. A logout.Middleware whose session check uses the same store then
// signs that user out of the app on their next request.
//
// The providers are the logout.Middleware's, given to New: its
// Config.Providers and Config.LookupProvider. Each logout token is
// verified with the keys (JWKSURI, discovered when empty), signing
// algorithms (SigningAlgorithms, RS256 by default), client secret (for
// HS256 and its kin) and client_id of the provider its iss names, found
// by Middleware.Discover, so that one provider's key cannot end a session
// of another's. An iss matches a provider's Issuer as the middleware
// matches issuers: one trailing slash aside.
//
// It lives in its own module so that apps that do not use it do not pull
// in its JOSE dependency.
package backchannel
