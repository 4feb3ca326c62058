package lifecycle

import (
	"context"
	"errors"
	"net"
	"net/http"
	"runtime"
	"slices"
	"time"
)

// Shutdown drains the Registry: new upgrades are refused (503), every live
// connection is sent 1001 "server shutting down" (cause [ErrServerShutdown]),
// and Shutdown waits for the close handshakes and the OnClose hooks. Every
// Close frame is written by ctx's deadline or not at all (a connection
// whose frame could not be written is reported as 1006 abnormal, with the
// same cause). At the deadline, whatever is left has its TCP connection
// closed at once, all of them in parallel; Shutdown then waits for their
// hooks, at most forcedHookGrace, and returns ctx's error. It returns nil
// when every connection ended before the deadline.
//
// Shutdown does not wait for the OnClose hooks that are already running
// when it is called: a hook may call it (and then waits, like any caller,
// for the other connections to end, bounded by ctx); a hook that must not
// wait calls it in a goroutine of its own.
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
// both are done, by ctx's deadline.
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

// WithDrainSpread makes Shutdown and Restart spread their closes over
// window instead of closing every connection at once, so that clients do
// not all reconnect to the remaining servers in the same second (Phoenix's
// drainer does the same). The connections are closed in batches, evenly
// over the window; a connection keeps working until its batch. The window
// is cut to fit the shutdown's context: it ends at the latest a second (or
// a quarter of the time left, if less) before the deadline, so that the
// last handshakes can complete. Zero, the default, closes all at once.
func WithDrainSpread(window time.Duration) RegistryOption {
	return func(r *Registry) {
		if window > 0 {
			r.spread = window
		}
	}
}

// forcedHookGrace bounds how long Shutdown waits, after its deadline, for
// the OnClose hooks of the connections it closed by force.
const forcedHookGrace = 500 * time.Millisecond

// spreadTick is the least time between two batches of a spread drain.
const spreadTick = 20 * time.Millisecond

func (r *Registry) startDraining() []*Conn {
	r.mu.Lock()
	r.draining = true
	r.mu.Unlock()
	return r.snapshot()
}

// drain closes every connection with code and reason and waits for them
// to end, and for their hooks; not for the hooks already running when it
// is called, which may be its own caller's.
func (r *Registry) drain(ctx context.Context, code StatusCode, reason string) error {
	conns := r.startDraining()
	running := r.hookingNow()
	limit, _ := ctx.Deadline()
	closing, stop := context.WithCancel(ctx)
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		if ctx.Err() == nil {
			r.closeSpread(closing, conns, code, reason, limit)
		}
	}()
	err := r.waitLive(ctx, running)
	stop()
	if err == nil {
		<-closed
		if !limit.IsZero() && !time.Now().Before(limit) {
			// Everything ended, but as the deadline cut the last closes
			// short (a Close frame that could not be written by then).
			return context.DeadlineExceeded
		}
		return nil
	}
	r.force() // also fails the Close frames still being written
	<-closed
	grace, cancel := context.WithTimeout(context.Background(), forcedHookGrace)
	defer cancel()
	r.waitLive(grace, running)
	return ctx.Err()
}

// closeSpread closes conns, all at once or in batches over the spread
// window; limit bounds every Close frame and handshake.
func (r *Registry) closeSpread(ctx context.Context, conns []*Conn, code StatusCode, reason string, limit time.Time) {
	window := r.spread
	if !limit.IsZero() {
		left := time.Until(limit)
		window = min(window, left-min(time.Second, left/4))
	}
	batches := 1
	if window > 0 {
		batches = max(1, min(len(conns), int(window/spreadTick)))
	}
	start := time.Now()
	for i := range batches {
		if i > 0 {
			wait := time.NewTimer(time.Until(start.Add(window * time.Duration(i) / time.Duration(batches))))
			select {
			case <-ctx.Done():
				wait.Stop()
				return
			case <-wait.C:
			}
		}
		batch := conns[len(conns)*i/batches : len(conns)*(i+1)/batches]
		reqs := r.decideAll(batch, ErrServerShutdown, code, reason)
		r.carryOutAll(reqs, limit)
	}
}

// force ends everything still live: first every connection is shut down
// for reading and writing (shutdown(2), which, unlike closing the socket,
// does not wait for the goroutine blocked in a read to leave it), which
// fails every read and write in flight at once; then the connections are
// finished (TCP closed, [CloseInfo] settled, hooks run) by a few goroutines
// in parallel, and by their own readers as they wake.
func (r *Registry) force() {
	r.mu.Lock()
	conns := slices.Clone(r.conns)
	var upgrading []net.Conn
	for t := range r.pending {
		if t.conn != nil {
			upgrading = append(upgrading, t.conn)
		}
	}
	r.mu.Unlock()
	for _, nc := range upgrading {
		nc.Close()
	}
	for _, c := range conns {
		c.guard.shutdown()
	}
	workers := min(len(conns), 4*runtime.GOMAXPROCS(0))
	for w := range workers {
		part := conns[len(conns)*w/workers : len(conns)*(w+1)/workers]
		go func() {
			for _, c := range part {
				c.kill(ErrServerShutdown)
			}
		}()
	}
}
