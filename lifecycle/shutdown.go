package lifecycle

import (
	"context"
	"errors"
	"net/http"
)

// Shutdown drains the Registry: new upgrades are refused (503), every live
// connection is sent 1001 "server shutting down" (cause ErrServerShutdown),
// and Shutdown waits for the close handshakes. At ctx's deadline whatever is
// left is closed at once. Shutdown returns only after every connection's
// OnClose hooks have run; it returns ctx's error if it had to force any.
//
// net/http's Server.Shutdown does not know about hijacked connections, and
// every WebSocket is one (golang/go#17721): call ShutdownServer, or call
// Shutdown yourself next to Server.Shutdown.
func (r *Registry) Shutdown(ctx context.Context) error {
	return r.drain(ctx, StatusGoingAway, "server shutting down")
}

// Restart is Shutdown with 1012 "server restarting", which tells clients to
// reconnect.
func (r *Registry) Restart(ctx context.Context) error {
	return r.drain(ctx, StatusServiceRestart, "server restarting")
}

// ShutdownServer shuts srv and the Registry down together: upgrades are
// refused at once, srv stops accepting and waits for its plain HTTP
// requests, and the WebSockets are drained as by Shutdown. It returns when
// both are done.
//
//	go func() {
//		<-ctx.Done() // SIGTERM
//		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
//		defer cancel()
//		reg.ShutdownServer(shutdownCtx, srv)
//	}()
func (r *Registry) ShutdownServer(ctx context.Context, srv *http.Server) error {
	r.startDraining()
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Shutdown(ctx) }()
	err := r.Shutdown(ctx)
	return errors.Join(<-httpDone, err)
}

func (r *Registry) startDraining() []*Conn {
	r.mu.Lock()
	r.draining = true
	r.mu.Unlock()
	return r.snapshot()
}

func (r *Registry) drain(ctx context.Context, code StatusCode, reason string) error {
	conns := r.startDraining()
	if ctx.Err() == nil {
		r.closeAll(conns, ErrServerShutdown, code, reason)
	}
	ended := make(chan struct{})
	go func() {
		r.live.Wait()
		close(ended)
	}()
	select {
	case <-ended:
		return nil
	case <-ctx.Done():
	}
	for _, c := range r.snapshot() {
		c.kill(ErrServerShutdown)
	}
	<-ended
	return ctx.Err()
}
