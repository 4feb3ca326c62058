package graph

import (
	"context"
	"fmt"
	"time"
)

// Resolver is the example's root resolver. It holds no state.
type Resolver struct{}

// Hello is the resolver for the hello field.
func (r *queryResolver) Hello(ctx context.Context) (string, error) {
	return "hello", nil
}

// Tick bounds for the ticks subscription.
const (
	MinTickMs = 10
	MaxTickMs = 60 * 60 * 1000
)

// Ticks sends 1, 2, 3, … every everyMs milliseconds until the subscription
// (or the connection) ends.
func (r *subscriptionResolver) Ticks(ctx context.Context, everyMs int) (<-chan int, error) {
	if everyMs < MinTickMs || everyMs > MaxTickMs {
		return nil, fmt.Errorf("everyMs must be between %d and %d", MinTickMs, MaxTickMs)
	}
	ch := make(chan int)
	go func() {
		defer close(ch)
		t := time.NewTicker(time.Duration(everyMs) * time.Millisecond)
		defer t.Stop()
		for n := 1; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			select {
			case <-ctx.Done():
				return
			case ch <- n:
			}
		}
	}()
	return ch, nil
}

// Query returns QueryResolver implementation.
func (r *Resolver) Query() QueryResolver { return &queryResolver{r} }

// Subscription returns SubscriptionResolver implementation.
func (r *Resolver) Subscription() SubscriptionResolver { return &subscriptionResolver{r} }

type (
	queryResolver        struct{ *Resolver }
	subscriptionResolver struct{ *Resolver }
)
