// Package oidcdoc fetches the JSON documents of an OpenID Provider, its
// discovery document, bounded in size and time, for the core module's
// discovery.
package oidcdoc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// MaxBytes bounds a document: 1 MiB is far more than any real one.
const MaxBytes = 1 << 20

// Metadata is the part of an OpenID Provider's discovery document (OpenID
// Connect Discovery 1.0) that logout uses.
type Metadata struct {
	Issuer             string `json:"issuer"`
	EndSessionEndpoint string `json:"end_session_endpoint"`
	RevocationEndpoint string `json:"revocation_endpoint"`
	JWKSURI            string `json:"jwks_uri"`
	// RevocationAuthMethods lists the client authentication methods the
	// revocation endpoint accepts, when the provider says.
	RevocationAuthMethods []string `json:"revocation_endpoint_auth_methods_supported"`
}

// Discover fetches issuer's discovery document with client and checks
// that the document names the same issuer, give or take a trailing slash.
func Discover(ctx context.Context, client *http.Client, issuer string) (*Metadata, error) {
	issuer = strings.TrimRight(issuer, "/")
	var meta Metadata
	if err := getJSON(ctx, client, issuer+"/.well-known/openid-configuration", &meta); err != nil {
		return nil, err
	}
	if strings.TrimRight(meta.Issuer, "/") != issuer {
		return nil, fmt.Errorf("document issuer %q does not match configured issuer %q", meta.Issuer, issuer)
	}
	return &meta, nil
}

// getJSON GETs url with client and decodes its body, at most MaxBytes of
// JSON, into dst. Any status but 200 is an error.
func getJSON(ctx context.Context, client *http.Client, url string, dst any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %d", url, resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxBytes+1))
	if err != nil {
		return fmt.Errorf("reading %s: %w", url, err)
	}
	if len(data) > MaxBytes {
		return fmt.Errorf("%s is larger than %d bytes", url, MaxBytes)
	}
	if err := json.Unmarshal(data, dst); err != nil {
		return fmt.Errorf("decoding %s: %w", url, err)
	}
	return nil
}
