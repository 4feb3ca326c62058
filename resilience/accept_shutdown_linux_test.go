//go:build linux

package resilience_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/wsmw/wsmw/internal/wstest"
)

// The load of TestExampleShutdownIsBounded (issue 13, item 2).
const (
	shutdownIdle        = 50
	shutdownStuck       = 200
	shutdownTimeout     = 5 * time.Second
	shutdownExitBound   = 6 * time.Second  // -shutdown-timeout + 1 s
	shutdownWaitAtMost  = 45 * time.Second // then the process is killed
	stuckRcvBuf         = 4 << 10          // the stuck clients' SO_RCVBUF
	stuckSndBuf         = 32 << 10         // and SO_SNDBUF
	stuckMSS            = 1024             // their TCP_MAXSEG
	stuckFirstMessage   = 1 << 10          // bytes of the first echo message: its echo fits the client's buffer
	stuckMessage        = 16 << 10         // bytes of the echo messages after it
	stuckMaxBytes       = 64 << 20         // a stuck client gives up after writing this much
	stuckSetupWorkers   = 40
	stuckWriteStall     = 100 * time.Millisecond
	stuckStalls         = 3 // stalls in a row, the server reading nothing, that make a write stuck
	idleCloseReadWithin = 90 * time.Second
)

// TestExampleShutdownIsBounded starts the example with -write-timeout 60s
// -shutdown-timeout 5s (and no rate or connection limits, no heartbeat),
// opens 50 idle connections and 200 that send echo traffic but never
// read, with a small SO_RCVBUF, until the server's echo write is stuck on
// each of them (see makeStuck). Then SIGTERM: the process must exit
// 0 within 6 s, with exactly one "ws closed" line per connection; every
// idle client must have received Close 1001 "server shutting down" (and be
// logged so); a stuck connection must not be logged as if a Close frame
// had reached it: either code 1006, initiator abnormal, cause "server
// shutting down", or 1001 only where that client really received the 1001.
func TestExampleShutdownIsBounded(t *testing.T) {
	t.Parallel()
	forEachReadMode(t, func(t *testing.T, mode []string) {
		ex := startProc(t, append(mode, "-write-timeout", "60s", "-shutdown-timeout", shutdownTimeout.String(),
			"-msg-rate", "0", "-connect-rate", "0", "-max-conns-per-ip", "0",
			// No heartbeat either: on a slow machine the setup and today's
			// shutdown together outlast ping interval + pong timeout (40 s),
			// and stuck connections would end as dead peers instead.
			"-ping-interval", "0")...)

		// The idle clients: each waits for the server's Close (answering any
		// ping), answers it and waits for the end of TCP.
		type idleEnd struct {
			frames []wstest.Frame
			err    error
		}
		idleEnds := make([]idleEnd, shutdownIdle)
		var idleWG sync.WaitGroup
		for i := range shutdownIdle {
			sub := fmt.Sprintf("shut-idle-%02d", i)
			rc, err := wstest.DialRaw(ex.wsURL(), ex.bearer(t, sub))
			if err != nil {
				t.Fatalf("%s: dial: %v", sub, err)
			}
			defer rc.Close()
			idleWG.Go(func() {
				frames, err := awaitClose(rc, idleCloseReadWithin)
				idleEnds[i] = idleEnd{frames, err}
				if f, ok := closeFrameIn(frames); ok {
					rc.WriteClose(f.CloseCode(), "")
					rc.WaitEOF(10 * time.Second)
				}
			})
		}

		// The stuck clients.
		stuck := make([]*wstest.RawClient, shutdownStuck)
		stuckBytes := make([]int64, shutdownStuck)
		var (
			setupWG  sync.WaitGroup
			setupMu  sync.Mutex
			setupErr []string
			next     = make(chan int)
		)
		stuckHeaders := make([]http.Header, shutdownStuck)
		for i := range stuckHeaders {
			stuckHeaders[i] = ex.bearer(t, fmt.Sprintf("shut-stuck-%03d", i))
		}
		setupStart := time.Now()
		for range stuckSetupWorkers {
			setupWG.Go(func() {
				for i := range next {
					sub := fmt.Sprintf("shut-stuck-%03d", i)
					rc, n, err := makeStuck(stuckHeaders[i], ex.wsURL())
					setupMu.Lock()
					stuck[i], stuckBytes[i] = rc, n
					if err != nil {
						setupErr = append(setupErr, sub+": "+err.Error())
					}
					setupMu.Unlock()
				}
			})
		}
		for i := range shutdownStuck {
			next <- i
		}
		close(next)
		setupWG.Wait()
		for _, rc := range stuck {
			if rc != nil {
				defer rc.Close()
			}
		}
		if len(setupErr) > 0 {
			sort.Strings(setupErr)
			t.Fatalf("%d of %d clients could not get the server's echo write stuck:\n  %s",
				len(setupErr), shutdownStuck, strings.Join(setupErr[:min(len(setupErr), 10)], "\n  "))
		}
		var total, most int64
		for _, n := range stuckBytes {
			total += n
			most = max(most, n)
		}
		t.Logf("%d idle clients; %d clients with the server's echo write stuck after %v (they wrote %d KiB each on average, at most %d KiB)",
			shutdownIdle, shutdownStuck, time.Since(setupStart).Round(time.Millisecond), total/shutdownStuck>>10, most>>10)
		if n := len(ex.closedLines(t)); n > 0 {
			t.Fatalf("connections ended before SIGTERM: %v", ex.closedLines(t))
		}

		sentAt := ex.signal(t, syscall.SIGTERM)
		code, exitAt, killed := ex.waitExit(shutdownWaitAtMost)
		took := exitAt.Sub(sentAt)
		switch {
		case killed:
			t.Errorf("the example had not exited %v after SIGTERM (killed); want exit 0 within %v", shutdownWaitAtMost, shutdownExitBound)
		case code != 0 || took > shutdownExitBound:
			t.Errorf("the example exited with code %d %v after SIGTERM; want exit 0 within %v (-shutdown-timeout %v + 1 s)",
				code, took.Round(time.Millisecond), shutdownExitBound, shutdownTimeout)
		default:
			t.Logf("the example exited 0 %v after SIGTERM", took.Round(time.Millisecond))
		}
		idleWG.Wait()

		// What each stuck client holds: the frames in its receive queue.
		stuckFrames := make([][]wstest.Frame, shutdownStuck)
		stuckHeld := make([]string, shutdownStuck)
		for i, rc := range stuck {
			var err error
			stuckFrames[i], err = readAll(rc, 5*time.Second)
			stuckHeld[i] = fmt.Sprintf("%s, then %v", describeFrames(stuckFrames[i]), err)
		}

		lines := ex.closedLines(t)
		if n := countClosed(lines); n != shutdownIdle+shutdownStuck {
			t.Errorf("%d \"ws closed\" lines, want exactly one per connection: %d", n, shutdownIdle+shutdownStuck)
		}
		var failures tally
		for i, end := range idleEnds {
			sub := fmt.Sprintf("shut-idle-%02d", i)
			ls := lines[sub]
			f, got := closeFrameIn(end.frames)
			wire := describeFrames(end.frames)
			if end.err != nil {
				wire += fmt.Sprintf(" then %v", end.err)
			}
			switch {
			case len(ls) != 1:
				failures.add("idle: not exactly one \"ws closed\" line", sub, fmt.Sprintf("%d lines %v; the client read: %s", len(ls), ls, wire))
			case !got || f.CloseCode() != 1001 || f.CloseReason() != "server shutting down":
				failures.add("idle: no Close 1001 \"server shutting down\" on the wire", sub, fmt.Sprintf("the client read: %s; logged %v", wire, ls[0]))
			case ls[0].Code != 1001 || ls[0].Reason != "server shutting down" || ls[0].Initiator != "local":
				failures.add("idle: logged otherwise than 1001 \"server shutting down\" local", sub, ls[0].String())
			}
		}
		for i, frames := range stuckFrames {
			sub := fmt.Sprintf("shut-stuck-%03d", i)
			ls := lines[sub]
			f, got := closeFrameIn(frames)
			gotGoingAway := got && f.CloseCode() == 1001
			switch {
			case len(ls) != 1:
				failures.add("stuck: not exactly one \"ws closed\" line", sub, fmt.Sprintf("%d lines %v; the client holds: %s", len(ls), ls, stuckHeld[i]))
			case ls[0].Code == 1006 && ls[0].Initiator == "abnormal" && ls[0].Cause == "server shutting down":
			case ls[0].Code == 1001 && gotGoingAway:
			case ls[0].Code == 1001:
				failures.add("stuck: logged 1001, a Close frame that never reached the client", sub,
					fmt.Sprintf("logged %v; the client holds: %s", ls[0], stuckHeld[i]))
			default:
				failures.add("stuck: logged neither 1006 abnormal \"server shutting down\" nor a 1001 it received", sub,
					fmt.Sprintf("logged %v; the client holds: %s", ls[0], stuckHeld[i]))
			}
		}
		failures.report(t)
	})
}

// awaitClose reads frames, answering pings, until the server's Close
// frame (the last of the frames returned) or an error.
func awaitClose(rc *wstest.RawClient, d time.Duration) ([]wstest.Frame, error) {
	var frames []wstest.Frame
	deadline := time.Now().Add(d)
	for {
		f, err := rc.ReadFrame(time.Until(deadline))
		if err != nil {
			return frames, err
		}
		frames = append(frames, f)
		switch f.Op {
		case wstest.OpClose:
			return frames, nil
		case wstest.OpPing:
			rc.WriteFrame(wstest.OpPong, true, f.Payload)
		}
	}
}

// makeStuck connects (with hdr) with a small receive buffer and sends echo
// messages without ever reading, until the server's echo write is stuck:
// the client's writes stall, and across stuckStalls stalls in a row (the
// last ones writing nothing) the server acknowledged none of the bytes
// queued to it (the client's send queue, SIOCOUTQ, is unchanged: the
// server's receive window stayed shut, so it read nothing) while
// the client holds echoed data (SIOCINQ) that it never reads. An echo
// handler that stops reading is blocked in its write. It returns the
// client and how many bytes it wrote.
func makeStuck(hdr http.Header, url string) (*wstest.RawClient, int64, error) {
	d := &net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		c.Control(func(fd uintptr) {
			serr = errors.Join(
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, stuckRcvBuf),
				// A moderate send buffer bounds how far Linux grows the
				// server's receive buffer (it follows the rate data comes
				// in); a tiny one would wait on delayed ACKs.
				syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_SNDBUF, stuckSndBuf),
				// A small MSS keeps the server's send buffer small: Linux
				// sizes it from the MSS (64 KiB on loopback) times the
				// initial window, megabytes that would all have to fill.
				syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_MAXSEG, stuckMSS))
		})
		return serr
	}}
	rc, err := wstest.DialRawWith(d, url, hdr)
	if err != nil {
		return nil, 0, fmt.Errorf("dial: %w", err)
	}
	// A small message first, so that the echo the client's small buffer
	// holds is a whole frame; then large ones, few writes for the server.
	pending := wstest.AppendFrame(nil, wstest.OpBinary, true, make([]byte, stuckFirstMessage))
	msg := wstest.AppendFrame(nil, wstest.OpBinary, true, make([]byte, stuckMessage))
	var (
		written int64
		last    queues // the client's queues at the previous stall
		stalls  int    // stalls in a row with the same queues
	)
	for written < stuckMaxBytes {
		rc.Conn.SetWriteDeadline(time.Now().Add(stuckWriteStall))
		n, err := rc.Conn.Write(pending)
		written += int64(n)
		if pending = pending[n:]; len(pending) == 0 {
			pending = msg
		}
		if err == nil {
			stalls = 0
			continue
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			rc.Close()
			return nil, written, fmt.Errorf("write after %d bytes: %w", written, err)
		}
		q, ok := socketQueues(rc.Conn)
		switch {
		case !ok || q.out == 0 || q.in == 0:
			stalls = 0
		case stalls == 0 || n > 0 || q != last:
			stalls = 1
		default:
			stalls++
		}
		last = q
		if stalls >= stuckStalls {
			rc.Conn.SetWriteDeadline(time.Time{})
			return rc, written, nil
		}
	}
	rc.Close()
	return nil, written, fmt.Errorf("wrote %d bytes and the server never stopped reading", written)
}

// queues are a client socket's bytes not yet acknowledged by the server
// (out) and not yet read by the client (in).
type queues struct{ out, in int64 }

// socketQueues reads c's queues with the SIOCOUTQ and SIOCINQ ioctls.
func socketQueues(c net.Conn) (queues, bool) {
	sc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		return queues{}, false
	}
	var out, in int32
	var e1, e2 syscall.Errno
	sc.Control(func(fd uintptr) {
		_, _, e1 = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&out)))
		_, _, e2 = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&in)))
	})
	return queues{int64(out), int64(in)}, e1 == 0 && e2 == 0
}

// tally groups failures by kind, so that 200 alike read as one line with
// a few examples.
type tally struct {
	order []string
	kinds map[string][]string
}

func (ty *tally) add(kind, who, what string) {
	if ty.kinds == nil {
		ty.kinds = map[string][]string{}
	}
	if _, ok := ty.kinds[kind]; !ok {
		ty.order = append(ty.order, kind)
	}
	ty.kinds[kind] = append(ty.kinds[kind], who+": "+what)
}

func (ty *tally) report(t *testing.T) {
	t.Helper()
	for _, kind := range ty.order {
		all := ty.kinds[kind]
		shown := all[:min(len(all), 3)]
		t.Errorf("%s: %d connections, e.g.\n  %s", kind, len(all), strings.Join(shown, "\n  "))
	}
}
