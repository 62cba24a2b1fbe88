// Package backchannel receives OpenID Connect Back-Channel Logout 1.0
// requests: the provider POSTs a signed logout_token when a user's session
// at the provider ends, and the Handler validates it (section 2.6 of the
// specification) and records the ended session in a logout.Ledger
// store. A logout.Middleware whose session check uses the same store then
// signs that user out of the app on their next request.
//
// An app with several providers (or tenants) lists them in
// Config.Providers, or finds them by issuer with Config.LookupProvider:
// each logout token is verified with the keys, algorithms, client secret
// and client_id of the provider its iss names, so that one provider's key
// cannot end a session of another's.
//
// It lives in its own module so that apps that do not use it do not pull
// in its JOSE dependency.
package backchannel
