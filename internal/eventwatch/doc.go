//go:build linux

// Package eventwatch is what the watches that turn a store's notification
// records into events of their own (secrets.Watch, krb5ring.Watch) share:
// records read as they come into a bounded buffer, whatever the consumer
// is doing; records dropped past it counted, and answered by reading
// everything again; events queued by the watch and yielded in order.
//
// The records must keep being read while the watch handles one: handling
// makes calls on the store, which over a daemon share the connection with
// the records, and a connection whose records nobody reads stalls its
// calls. So a Loop reads them on a goroutine of its own (Pump) and drops
// what the buffer cannot hold, as a full queue would.
package eventwatch
