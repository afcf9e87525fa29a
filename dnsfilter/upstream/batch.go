package upstream

// Batches: the UDP server reads client questions in batches, and the
// upstream sockets read answers in batches. Sending each forwarded query,
// and each answer back to a client, with a system call of its own made
// those calls half of the CPU of a cache-miss-heavy load (issue 16); a
// batch sends them with one call per socket.

// SendBatch gathers the queries forwarded with Forward by one goroutine
// until Flush, so that each upstream socket sends them with one system
// call. Retries and later tries are sent at once. The zero value is ready;
// it is not safe for concurrent use.
type SendBatch struct {
	socks []*poolSock
	picks []pick
}

// pick is the socket a batch uses for one upstream: all its queries to
// that upstream go out together.
type pick struct {
	pool *udpPool
	sock *poolSock
}

// Flush sends every query gathered.
func (b *SendBatch) Flush() {
	for _, s := range b.socks {
		s.flushOut()
	}
	clear(b.socks)
	b.socks = b.socks[:0]
	clear(b.picks)
	b.picks = b.picks[:0]
}

func (b *SendBatch) add(s *poolSock) {
	for _, x := range b.socks {
		if x == s {
			return
		}
	}
	b.socks = append(b.socks, s)
}

// A Flusher finishes work put off to the end of a batch.
type Flusher interface{ Flush() }

// Batch is handed to a Waiter (in Answer) with the answers one socket's
// reader reads together: the Waiter may put work off to the end of the
// batch (writing its answers to clients with one system call), and keep
// its own state for it in Local, which lasts as long as the reader.
type Batch struct {
	Local any
	later []Flusher
}

// Defer has f.Flush called once when the batch has been handled.
func (b *Batch) Defer(f Flusher) {
	for _, x := range b.later {
		if x == f {
			return
		}
	}
	b.later = append(b.later, f)
}

func (b *Batch) end() {
	for _, f := range b.later {
		f.Flush()
	}
	clear(b.later)
	b.later = b.later[:0]
}
