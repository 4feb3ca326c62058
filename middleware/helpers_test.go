package middleware_test

import (
	"net/url"

	"github.com/wsmw/wsmw/lifecycle"
)

// drainHandler reads until the connection ends.
func drainHandler(c *lifecycle.Conn) {
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			return
		}
	}
}

func hostOf(rawURL string) string {
	u, _ := url.Parse(rawURL)
	return u.Host
}
