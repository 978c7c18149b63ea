package bench

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progressEvery is how often the progress line is redrawn, and
// progressLineEvery how often a plain progress line is printed.
const (
	progressEvery     = 250 * time.Millisecond
	progressLineEvery = 2 * time.Second
)

// progress redraws one status line on w with "\r", so a terminal shows a
// live bar; with lines it prints a plain line every progressLineEvery
// instead, for a log file.
type progress struct {
	w     io.Writer
	lines bool
	n     int
	tr    *tracker
	phase func() string
	stop  chan struct{}
	done  chan struct{}
}

func startProgress(w io.Writer, lines bool, n int, tr *tracker, phase func() string) *progress {
	p := &progress{w: w, lines: lines, n: n, tr: tr, phase: phase, stop: make(chan struct{}), done: make(chan struct{})}
	if w == nil {
		close(p.done)
		return p
	}
	go p.loop()
	return p
}

func (p *progress) loop() {
	defer close(p.done)
	every := progressEvery
	if p.lines {
		every = progressLineEvery
	}
	t := time.NewTicker(every)
	defer t.Stop()
	start := time.Now()
	var lastDelivered int64
	var rate float64
	lastAt := start
	for {
		select {
		case <-p.stop:
			// The last line gives the run's average: the latest interval
			// may be a fraction, or none at all.
			if el := time.Since(start).Seconds(); el > 0 {
				rate = float64(p.tr.delivered.Load()) / el
			}
			p.draw(start, rate)
			if !p.lines {
				fmt.Fprintln(p.w)
			}
			return
		case now := <-t.C:
			d := p.tr.delivered.Load()
			rate = float64(d-lastDelivered) / now.Sub(lastAt).Seconds()
			lastDelivered, lastAt = d, now
			p.draw(start, rate)
		}
	}
}

func (p *progress) draw(start time.Time, rate float64) {
	const width = 30
	created, delivered := p.tr.created.Load(), p.tr.delivered.Load()
	if p.lines {
		fmt.Fprintf(p.w, "bench: %s: created %d/%d, delivered %d (%s/s), %s\n",
			p.phase(), created, p.n, delivered, thousands(rate), time.Since(start).Round(time.Second))
		return
	}
	filled := int(float64(width) * float64(delivered) / float64(max(p.n, 1)))
	bar := strings.Repeat("#", min(filled, width)) + strings.Repeat(".", width-min(filled, width))
	fmt.Fprintf(p.w, "\r[%s] %-9s created %d/%d  delivered %d (%s/s)  %s   ",
		bar, p.phase(), created, p.n, delivered, thousands(rate), time.Since(start).Round(time.Second))
}

func (p *progress) close() {
	select {
	case <-p.done:
		return
	default:
	}
	close(p.stop)
	<-p.done
}
