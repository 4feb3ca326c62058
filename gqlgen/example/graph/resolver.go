package graph

// THIS CODE WILL BE UPDATED WITH SCHEMA CHANGES. PREVIOUS IMPLEMENTATION FOR SCHEMA CHANGES WILL BE KEPT IN THE COMMENT SECTION. IMPLEMENTATION FOR UNCHANGED SCHEMA WILL BE KEPT.

import (
	"context"
	"fmt"
	"time"
)

type Resolver struct{}

// Hello is the resolver for the hello field.
func (r *queryResolver) Hello(ctx context.Context) (string, error) {
	return "hello", nil
}

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

// Query returns [QueryResolver] implementation.
func (r *Resolver) Query() QueryResolver { return &queryResolver{r} }

// Subscription returns [SubscriptionResolver] implementation.
func (r *Resolver) Subscription() SubscriptionResolver { return &subscriptionResolver{r} }

type (
	queryResolver        struct{ *Resolver }
	subscriptionResolver struct{ *Resolver }
)

// !!! WARNING !!!
// The code below was going to be deleted when updating resolvers. It has been copied here so you have
// one last chance to move it out of harms way if you want. There are two reasons this happens:
//  - When renaming or deleting a resolver the old code will be put in here. You can safely delete
//    it when you're done.
//  - You have helper methods in this file. Move them out to keep these resolver files clean.
/*
	type Resolver struct{}
*/
