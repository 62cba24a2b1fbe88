// Package backchannel receives OpenID Connect Back-Channel Logout 1.0
// requests: the provider POSTs a signed logout_token when a user's session
// at the provider ends, and the Handler validates it (section 2.6 of the
// specification) and records the ended session in a logout.Ledger
// store. A logout.Middleware whose session check uses the same store then
// signs that user out of the app on their next request.
//
// It lives in its own module so that apps that do not use it do not pull
// in its JOSE dependency.
package backchannel
