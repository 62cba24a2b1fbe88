package logout

import (
	"net/http"
	"strings"
)

// noStoreWriter sets Cache-Control: no-store on the app's response to a
// signed-in request (Config.NoStoreSignedIn), unless the app set
// Cache-Control or a Content-Type other than text/html. A response
// written without WriteHeader and without Content-Type is sniffed as
// net/http will; one whose WriteHeader comes first, without Content-Type,
// counts as a page.
type noStoreWriter struct {
	http.ResponseWriter
	decided bool
}

func (w *noStoreWriter) decide(body []byte) {
	if w.decided {
		return
	}
	w.decided = true
	h := w.Header()
	if h.Get("Cache-Control") != "" {
		return
	}
	ct := h.Get("Content-Type")
	if ct == "" && body != nil {
		ct = http.DetectContentType(body)
	}
	if ct == "" || strings.HasPrefix(ct, "text/html") {
		h.Set("Cache-Control", "no-store")
	}
}

func (w *noStoreWriter) WriteHeader(code int) {
	w.decide(nil)
	w.ResponseWriter.WriteHeader(code)
}

func (w *noStoreWriter) Write(b []byte) (int, error) {
	w.decide(b)
	return w.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController the app's writer.
func (w *noStoreWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// FlushError decides, as the first write would, before the headers go out.
func (w *noStoreWriter) FlushError() error {
	w.decide(nil)
	return http.NewResponseController(w.ResponseWriter).Flush()
}
