package main

// The operator console driven in a real browser: Debian's headless Chromium
// through chromedp, against IMS running in-process on SQLite with a local
// receiver. The test does what an operator does: enter the key, watch a
// message get sent, open its detail, replay a dead letter, stop the
// scheduler through the confirmation, and see the page say so when the
// server goes away.
//
// IMS_CONSOLE_SCREENSHOTS=<dir> also runs a few minutes of mixed traffic and
// writes console.png (1400 px), console-mobile.png (400 px) and the other
// pictures of docs/ there.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/insiderone/ims"
	"github.com/insiderone/ims/client"
	"github.com/insiderone/ims/config"
	"github.com/insiderone/ims/internal/testenv"
)

// findChromium returns the browser to drive. Without one the test skips,
// unless CI is set: then a missing browser is a failure (.ci/run installs
// the chromium package).
func findChromium(t *testing.T) string {
	t.Helper()
	candidates := []string{os.Getenv("IMS_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			candidates = append(candidates, p)
		}
	}
	for _, p := range candidates {
		if p == "" {
			continue
		}
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium found (CI is set, so this fails instead of skipping): install the chromium package or set IMS_CHROMIUM")
	}
	t.Skip("no Chromium found: install the chromium package (or set IMS_CHROMIUM) to run the console's browser test")
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile and a window
// of width×1000; it is closed when t ends.
func newBrowser(t *testing.T, width int) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(findChromium(t)),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		// Without these Chromium dials out, and a closed network refuses it.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, 1000),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	ctx, cancelRun := context.WithTimeout(ctx, 5*time.Minute)
	t.Cleanup(func() {
		cancelRun()
		cancel()
		cancelAlloc()
	})
	require.NoError(t, chromedp.Do(ctx), "start Chromium")
	return ctx
}

// page is the console open in a browser tab.
type page struct {
	t   *testing.T
	ctx context.Context
}

// on is p for subtest t, so that a failure ends the subtest.
func (p page) on(t *testing.T) page { return page{t: t, ctx: p.ctx} }

func (p page) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	require.NoError(p.t, chromedp.Do(p.ctx, actions...), what)
}

// waitJS waits until the JavaScript expression is true. The bound guards
// against a hang; it is not a timing assertion.
func (p page) waitJS(what, expr string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitTimeout)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(waitTimeout))); err != nil {
		body, _ := chromedp.Run(p.ctx, chromedp.Text(chromedp.CSS("body")))
		p.t.Fatalf("waiting for %s (%s): %v\n--- page text ---\n%s", what, expr, err, body)
	}
}

// truth evaluates a JavaScript expression that gives a boolean.
func (p page) truth(expr string) bool {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[bool](expr))
	require.NoError(p.t, err, "evaluate %s", expr)
	return v
}

func (p page) str(expr string) string {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](expr))
	require.NoError(p.t, err, "evaluate %s", expr)
	return v
}

// text is the text of the first element sel matches, "" when none does
// (it never waits).
func (p page) text(sel string) string {
	p.t.Helper()
	return p.str(`(document.querySelector(` + jsString(sel) + `) || {}).innerText || ""`)
}

func click(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }

// colorScheme makes the page see prefers-color-scheme: scheme.
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		return err
	})
}

// jsString quotes s for a JavaScript expression.
func jsString(s string) string { return fmt.Sprintf("%q", s) }

const (
	browserPhone = "+15550000001"
	deadPhone    = "+15550000099"
)

func TestConsoleInBrowser(t *testing.T) {
	testenv.Integration(t, "Chromium and IMS running in-process")
	ctx := newBrowser(t, 1400)
	hook := newFaults()
	h := newHarness(t, sqliteBackend, harnessOptions{
		Receiver: receiverOptions{Webhook: hook.handler},
		Configure: func(cfg *config.Config) {
			cfg.MaxRetries = 0
			cfg.StatsRefresh = 200 * time.Millisecond
		},
	})
	p := page{t: t, ctx: ctx}
	p.run("open the console", chromedp.Navigate("http://"+h.Main.Addr+"/"), chromedp.WaitVisible(chromedp.CSS("#key")))

	t.Run("nothing can be clicked before the key is accepted", func(t *testing.T) {
		p := p.on(t)
		require.True(t, p.truth(`document.getElementById("main").inert && document.getElementById("stop").disabled && document.getElementById("replay-all").disabled`))
		p.run("enter a wrong key", chromedp.SendKeys(chromedp.CSS("#key"), "not-the-key"), click("#connect"))
		p.waitJS("the rejection", `document.getElementById("key-result").textContent.includes("rejected")`)
		require.True(t, p.truth(`document.getElementById("main").inert`))
	})
	t.Run("enter the key: live", func(t *testing.T) {
		p := p.on(t)
		require.True(t, p.truth(`(document.getElementById("key").value = "") === ""`))
		p.run("enter the key", chromedp.SendKeys(chromedp.CSS("#key"), h.APIKey), click("#connect"))
		p.waitJS("the live feed", `document.getElementById("conn-text").textContent === "live"`)
		require.Equal(t, h.APIKey, p.str(`sessionStorage.getItem("ims-api-key")`), "the key is kept in sessionStorage")
		p.waitJS("the scheduler shown running", `document.getElementById("scheduler").textContent.includes("running")`)
		p.waitJS("the components' health", `document.getElementById("health").textContent.includes("database up")`)
	})

	var sent ims.Message
	t.Run("a created message turns sent, and its content is not run", func(t *testing.T) {
		p := p.on(t)
		sent = h.createMessage(t, browserPhone, `<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>`)
		p.waitJS("the message sent in the list", `!!document.querySelector('#messages tr[data-open=`+jsString(sent.ID)+`][data-status="sent"]')`)
		require.False(t, p.truth(`window.__xss !== undefined`), "message content ran as script")
		require.Contains(t, p.text(`#messages tr[data-open="`+sent.ID+`"]`), "<img src=x")
	})
	t.Run("its detail shows the attempt", func(t *testing.T) {
		p := p.on(t)
		p.run("open the detail", click(`#messages tr[data-open="`+sent.ID+`"] button.idlink`))
		p.waitJS("the attempts", `!!document.querySelector("#detail[open]") && document.getElementById("detail-body").textContent.includes("Attempts (1)")`)
		body := p.text("#detail-body")
		require.Contains(t, body, "202", "the attempt's status code")
		require.Contains(t, body, "message.sent", "the message's audit events")
		require.Contains(t, body, sent.ID)
		p.run("close the detail", click("#detail [data-close]"))
		p.waitJS("the detail closed", `!document.querySelector("#detail[open]")`)
	})
	t.Run("search by the end of an id", func(t *testing.T) {
		p := p.on(t)
		q := "…" + sent.ID[len(sent.ID)-8:]
		require.True(t, p.truth(`(document.getElementById("q").value = `+jsString(q)+`, document.getElementById("msgfilter").requestSubmit(), true)`))
		p.waitJS("the match for "+q, `document.getElementById("msg-result").textContent.startsWith("1 match") && !!document.querySelector('#messages tr[data-open=`+jsString(sent.ID)+`]')`)
		require.True(t, p.truth(`(document.getElementById("q").value = "", document.getElementById("msgfilter").requestSubmit(), true)`))
		p.waitJS("the full list again", `document.getElementById("msg-result").textContent === "" && !!document.querySelector("#msg-pager .muted")`)
	})
	t.Run("the filters the API documents are offered", func(t *testing.T) {
		p := p.on(t)
		prio := `#msg-extra select[data-param="priority"]`
		p.waitJS("a priority filter", `!!document.querySelector(`+jsString(prio)+`)`)
		require.True(t, p.truth(`(() => { const s = document.querySelector(`+jsString(prio)+`); s.value = "low"; s.dispatchEvent(new Event("change")); return true })()`))
		p.waitJS("no low message", `document.getElementById("messages").textContent.includes("None.")`)
		require.True(t, p.truth(`(() => { const s = document.querySelector(`+jsString(prio)+`); s.value = ""; s.dispatchEvent(new Event("change")); return true })()`))
		p.waitJS("the messages again", `!!document.querySelector('#messages tr[data-open=`+jsString(sent.ID)+`]')`)
	})
	t.Run("search by phone finds an old message through the API's filter", func(t *testing.T) {
		p := p.on(t)
		// More newer messages than a client-side scan of the newest 2,000
		// would read, due in a month so that they hold no delivery up: only
		// the API's phone_number filter reaches the sent one behind them.
		later := time.Now().Add(30 * 24 * time.Hour)
		for b := range 3 {
			batch := make([]client.NewMessage, ims.MaxPageLimit)
			for i := range batch {
				batch[i] = client.NewMessage{PhoneNumber: "+15550000002", Content: fmt.Sprintf("newer %d-%d", b, i), SendAt: &later}
			}
			_, err := h.API.CreateBatch(t.Context(), batch, "")
			require.NoError(t, err)
		}
		for _, q := range []string{browserPhone, "1 555 000 0001"} { // as stored, and as typed loosely
			require.True(t, p.truth(`(document.getElementById("q").value = `+jsString(q)+`, document.getElementById("msgfilter").requestSubmit(), true)`))
			p.waitJS("the old message found for "+q, `document.getElementById("msg-result").textContent.startsWith("messages to `+browserPhone+`") && !!document.querySelector('#messages tr[data-open=`+jsString(sent.ID)+`]')`)
		}
		require.NotContains(t, p.text("#messages"), "+15550000002", "only the number searched")
		require.True(t, p.truth(`(document.getElementById("q").value = "+0123", document.getElementById("msgfilter").requestSubmit(), true)`))
		p.waitJS("the API's answer to a number not in E.164 shape", `document.getElementById("msg-result").textContent.includes("phone_number must be in E.164 format")`)
		require.True(t, p.truth(`(document.getElementById("q").value = "", document.getElementById("msgfilter").requestSubmit(), true)`))
		p.waitJS("the full list again", `document.getElementById("msg-result").textContent === "" && !!document.querySelector("#msg-pager .muted")`)
	})
	t.Run("the instances are listed, this one the leader", func(t *testing.T) {
		p := p.on(t)
		row := `#instances tr[data-instance=` + jsString(h.Config.InstanceID) + `]`
		// The first heartbeat can go out before the leader lease is won:
		// wait for the row to say leader, as an operator would see it settle.
		p.waitJS("this instance listed as the leader",
			`(r => !!r && r.innerText.includes("leader"))(document.querySelector(`+jsString(row)+`))`)
		text := p.text(row)
		require.Contains(t, text, "leader")
		require.Contains(t, text, "this one")
		require.Contains(t, text, "s ago")
		require.NotContains(t, text, "stale")
	})
	t.Run("a dead letter replayed by a click is sent", func(t *testing.T) {
		p := p.on(t)
		hook.set(deadPhone, always(422))
		dead := h.createMessage(t, deadPhone, "rejected by the provider")
		replay := `#dead button[data-replay="` + dead.ID + `"]`
		p.waitJS("the dead letter listed", `!!document.querySelector(`+jsString(replay)+`)`)
		require.Contains(t, p.str(`document.querySelector(`+jsString(replay)+`).closest("tr").innerText`), "422", "the last status code")
		hook.set(deadPhone, nil)
		p.run("replay it", click(replay))
		p.waitJS("the answer next to the button", `document.getElementById("dead-result").textContent.includes("Replayed")`)
		p.waitJS("the replayed message sent", `!!document.querySelector('#messages tr[data-open=`+jsString(dead.ID)+`][data-status="sent"]')`)
	})

	t.Run("hovering a chart shows the values under the pointer", func(t *testing.T) {
		p := p.on(t)
		require.True(t, p.truth(`(() => {
			const el = document.getElementById("chart-outcomes"), b = el.querySelector("svg").getBoundingClientRect();
			el.dispatchEvent(new MouseEvent("mousemove", {clientX: b.right - 12, clientY: b.top + 40, bubbles: true}));
			return true })()`))
		p.waitJS("the hover label", `[...document.querySelectorAll("#chart-outcomes svg text")].some((t) => /^−\d+s: delivered /.test(t.textContent))`)
	})
	t.Run("no sideways scrolling at 400 px", func(t *testing.T) {
		p := p.on(t)
		p.run("narrow the window", chromedp.EmulateViewport(400, 900))
		p.waitJS("the narrow layout", `window.innerWidth === 400`)
		require.False(t, p.truth(`document.documentElement.scrollWidth > window.innerWidth`), "the page scrolls sideways at 400 px")
		p.run("back to the desktop width", chromedp.EmulateViewport(1400, 1000))
	})
	if dir := os.Getenv("IMS_CONSOLE_SCREENSHOTS"); dir != "" {
		t.Run("screenshots", func(t *testing.T) { screenshots(t, p, h, hook, dir) })
	}

	t.Run("replay all says how many first", func(t *testing.T) {
		p := p.on(t)
		hook.set(deadPhone, always(422))
		before, err := h.API.ListDeadLetters(t.Context(), client.MessageFilter{Limit: ims.MaxPageLimit})
		require.NoError(t, err)
		want := strconv.Itoa(len(before.Messages) + 2) // the screenshots, when taken, left some
		for range 2 {
			h.createMessage(t, deadPhone, "rejected again")
		}
		p.waitJS(want+" dead letters counted", `document.getElementById("dead-count").textContent === `+jsString(want)+` && !document.getElementById("replay-all").disabled`)
		hook.set(deadPhone, nil)
		p.run("click replay all", click("#replay-all"))
		p.waitJS("the confirmation", `!!document.querySelector("#confirm[open]")`)
		require.Contains(t, p.text("#confirm-text"), "Replay all "+want+" dead letters")
		p.run("confirm", click("#confirm-yes"))
		p.waitJS("the answer next to the button", `document.getElementById("dead-result").textContent.includes("Replayed `+want+` dead letters")`)
		p.waitJS("no dead letter left", `document.getElementById("dead-count").textContent === "0"`)
	})
	t.Run("an expired message replayed from its detail with a new expiry is sent", func(t *testing.T) {
		p := p.on(t)
		const phone = "+15550000077"
		hook.set(phone, always(503)) // held for the provider until its second of life is over
		res, err := h.API.CreateMessage(t.Context(), client.NewMessage{PhoneNumber: phone, Content: "short-lived", TTLSeconds: 1}, "")
		require.NoError(t, err)
		id := res.Message.ID
		h.waitStatus(t, id, ims.StatusExpired)
		hook.set(phone, nil)
		require.True(t, p.truth(`(document.getElementById("q").value = `+jsString(id)+`, document.getElementById("msgfilter").requestSubmit(), true)`))
		p.waitJS("its detail with a new expiry to give", `!!document.querySelector("#detail[open] #d-ttl") && !!document.querySelector("#detail[open] #d-replay")`)
		p.run("replay it", click("#d-replay"))
		p.waitJS("the answer next to the button", `document.getElementById("d-result").textContent.includes("Replayed")`)
		h.waitStatus(t, id, ims.StatusSent)
		p.waitJS("the detail shows it sent", `document.getElementById("detail-body").textContent.includes("message.sent")`)
		p.run("close the detail", click("#detail [data-close]"))
		require.True(t, p.truth(`(document.getElementById("q").value = "", document.getElementById("msgfilter").requestSubmit(), true)`))
	})
	t.Run("stop asks first, then stops the fleet", func(t *testing.T) {
		p := p.on(t)
		p.run("click stop", click("#stop"))
		p.waitJS("the confirmation", `!!document.querySelector("#confirm[open]")`)
		require.Contains(t, p.text("#confirm-text"), "every IMS instance")
		p.run("decline", click("#confirm-no"))
		st, err := h.API.ControlStatus(t.Context())
		require.NoError(t, err)
		require.True(t, st.Running, "declining stops nothing")

		p.run("click stop again", click("#stop"))
		p.waitJS("the confirmation", `!!document.querySelector("#confirm[open]")`)
		p.run("confirm", click("#confirm-yes"))
		p.waitJS("the answer next to the button", `document.getElementById("sched-result").textContent.includes("stopped")`)
		st, err = h.API.ControlStatus(t.Context())
		require.NoError(t, err)
		require.False(t, st.Running)
		p.waitJS("the scheduler shown stopped", `document.getElementById("verdict").textContent.includes("stopped")`)
	})
	t.Run("cancel a pending message from its detail", func(t *testing.T) {
		p := p.on(t)
		waiting := h.createMessage(t, browserPhone, "waits while the scheduler is stopped")
		require.True(t, p.truth(`(document.getElementById("q").value = `+jsString(waiting.ID)+`, document.getElementById("msgfilter").requestSubmit(), true)`))
		p.waitJS("its detail with a cancel button", `!!document.querySelector("#detail[open] #d-cancel")`)
		p.run("cancel it", click("#d-cancel"))
		p.waitJS("the answer next to the button", `document.getElementById("d-result").textContent.includes("Canceled")`)
		got, err := h.API.GetMessage(t.Context(), waiting.ID)
		require.NoError(t, err)
		require.Equal(t, ims.StatusCanceled, got.Message.Status)
		p.waitJS("the detail shows it canceled", `document.getElementById("detail-body").textContent.includes("message.canceled")`)
		p.run("close the detail", click("#detail [data-close]"))
	})
	t.Run("the server goes away: the page says so", func(t *testing.T) {
		p := p.on(t)
		h.stop(t)
		p.waitJS("down since", `document.getElementById("conn-text").textContent.startsWith("down since")`)
		require.True(t, p.truth(`document.body.classList.contains("stale") && !document.getElementById("stale").hidden`), "every panel is marked stale")
		require.Contains(t, p.text("#stale"), "does not answer")
		if dir := os.Getenv("IMS_CONSOLE_SCREENSHOTS"); dir != "" {
			p.run("resize", chromedp.EmulateViewport(1400, 900))
			require.True(t, p.truth(`(window.scrollTo(0, 0), true)`))
			buf, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "console-down.png"), buf, 0o644))
		}
	})
}

// screenshots runs two and a half minutes of mixed traffic (most messages
// sent, some retried, a few dead, a provider outage) so that the charts have
// something to draw, then shoots the console at 1400 and 400 px, a
// message's detail and the dark scheme.
func screenshots(t *testing.T, p page, h *harness, hook *faults, dir string) {
	t.Helper()
	var shoot func(name string, width, height int)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	flaky := "+15550000042"
	hook.set(flaky, firstThen(429, "1"))
	hook.set(deadPhone, always(422))
	phones := []string{"+905551234567", "+14155550100", "+442071838750", flaky, "+4915112345678", deadPhone, "+33612345678"}
	// Two and a half minutes: steady traffic, then a 25-second provider
	// outage (every number answered 503: the circuit opens, the backlog
	// grows), then the recovery, so the charts show what they are for.
	start := time.Now()
	outage, recovered := false, false
	for i := 0; time.Since(start) < 150*time.Second; i++ {
		switch el := time.Since(start); {
		case el > 60*time.Second && !outage:
			outage = true
			for _, ph := range phones {
				if ph != deadPhone {
					hook.set(ph, always(503))
				}
			}
		case el > 85*time.Second && !recovered:
			recovered = true
			for _, ph := range phones {
				if ph != deadPhone {
					hook.set(ph, nil)
				}
			}
			hook.set(flaky, firstThen(429, "1"))
		}
		for j := range 3 + i%4 {
			phone := phones[(i+j)%len(phones)]
			if phone == deadPhone && i%3 != 0 {
				phone = phones[0]
			}
			h.createMessage(t, phone, fmt.Sprintf("Your code is %04d", (i*7+j*13)%10000))
		}
		time.Sleep(time.Second) // pacing the traffic, not waiting for a result
	}
	p.waitJS("live", `document.getElementById("conn-text").textContent === "live"`)
	shoot = func(name string, width, height int) {
		p.run("resize for "+name, chromedp.EmulateViewport(int64(width), int64(height)))
		p.waitJS("the width", fmt.Sprintf("window.innerWidth === %d", width))
		require.True(t, p.truth(`(window.scrollTo(0, 0), true)`))
		time.Sleep(1500 * time.Millisecond) // the next snapshot redraws the charts at this width: for the picture only
		buf, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
		require.NoError(t, err, "screenshot %s", name)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), buf, 0o644))
		require.False(t, p.truth(`document.documentElement.scrollWidth > window.innerWidth`), "%s: the page scrolls sideways at %d px", name, width)
	}
	shoot("console.png", 1400, 1250)
	shoot("console-mobile.png", 400, 2000)
	p.run("open a dead letter", click("#dead button.idlink"))
	p.waitJS("its attempts", `!!document.querySelector("#detail[open]") && document.getElementById("detail-body").textContent.includes("Attempts (")`)
	shoot("console-detail.png", 1400, 1000)
	p.run("close it", click("#detail [data-close]"))
	p.run("dark scheme", colorScheme("dark"))
	shoot("console-dark.png", 1400, 1250)
	p.run("light scheme", colorScheme("light"))
	p.run("back to the desktop width", chromedp.EmulateViewport(1400, 1000))
}
