package store

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff paces the tries of an operation that waits for another process
// (a lock, a busy database, a server out of connection slots): the pauses
// grow from the first one, doubling up to most, each jittered, and none
// runs past the deadline, if there is one.
type backoff struct {
	pause    time.Duration // the next pause, before jitter
	most     time.Duration // the longest pause
	deadline time.Time     // zero: the pauses are not cut short
}

// newBackoff paces tries for at most timeout from now.
func newBackoff(first, most, timeout time.Duration) *backoff {
	return &backoff{pause: first, most: most, deadline: time.Now().Add(timeout)}
}

// expired reports whether the deadline has passed.
func (b *backoff) expired() bool { return !time.Now().Before(b.deadline) }

// retry calls try until it says not to try again, and returns its error
// then; between tries it waits the next pause. A ctx done during a pause
// ends the wait with ctx's error. (try itself decides which errors are
// worth another try, and when the time is up.)
func (b *backoff) retry(ctx context.Context, try func() (again bool, err error)) error {
	for {
		again, err := try()
		if !again {
			return err
		}
		d := jitter(b.pause)
		if !b.deadline.IsZero() {
			d = min(d, time.Until(b.deadline))
		}
		if err := sleepCtx(ctx, d); err != nil {
			return err
		}
		b.pause = min(2*b.pause, b.most)
	}
}

// jitter returns a pause between d/2 and d, so that processes that collided
// don't collide again in step.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
