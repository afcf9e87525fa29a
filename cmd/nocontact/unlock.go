package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/nocontact/nocontact/daemon/control"
)

// cmdUnlock asks to end the pact early, or confirms a request that has
// waited out its cooldown. Before it asks for anything new it shows the
// person their own reason and the time left, and asks them to type a
// sentence; --sentence types it for a script. Neither skips the cooldown.
func cmdUnlock(ctx context.Context, e *env, args []string) error {
	var sentence *string
	return clientCommand(e, "unlock", args, 0, func(fs *flag.FlagSet) {
		sentence = fs.String("sentence", "", "the sentence unlock asks you to type, for a script: --sentence \""+unlockSentence+"\" (the cooldown applies all the same)")
	}, func(c *control.Client, _ []string) error {
		st, err := c.Status(ctx)
		if err != nil {
			return err
		}
		loc := time.Local
		if needsSentence(st) {
			renderUnlockIntro(e.stdout, st, loc)
			if err := e.typeSentence(*sentence); err != nil {
				return err
			}
		}
		res, err := c.Unlock(ctx)
		if err != nil {
			return err
		}
		renderUnlock(e.stdout, res, st, loc)
		if res.Refused {
			return errQuiet
		}
		return nil
	})
}

// needsSentence reports whether unlock would now ask for something new
// or confirm it: a running real pact, not strict, with no request to end
// it still waiting out its cooldown.
func needsSentence(st control.Status) bool {
	p := st.Pact
	if !p.Active || p.Trial || p.Strict {
		return false
	}
	for _, c := range st.Pending {
		if c.Ending && c.Effective.After(st.Now) {
			return false // asked already: unlock only says when
		}
	}
	return true
}

// matured returns the request to end the pact early that waits for
// confirmation, or nil.
func matured(st control.Status) *control.Pending {
	for i, c := range st.Pending {
		if c.Confirm && !c.Effective.After(st.Now) {
			return &st.Pending[i]
		}
	}
	return nil
}

// typeSentence has the person type the sentence, or takes it from the
// flag. Anything else asks for nothing.
func (e *env) typeSentence(flagged string) error {
	if flagged != "" {
		if !sameSentence(flagged, unlockSentence) {
			fmt.Fprintf(e.stdout, "\nThe sentence given with --sentence is not %q, so nothing was asked. Your pact goes on.\n", unlockSentence)
			return errQuiet
		}
		return nil
	}
	if !e.interactive {
		return fmt.Errorf("unlock asks you to type a sentence before it asks for anything, and no one can type here: "+
			"from a script, add --sentence %q (the cooldown applies all the same)", unlockSentence)
	}
	typed, err := e.ask("> ")
	if err != nil && !errors.Is(err, errNoAnswer) {
		return err
	}
	if !sameSentence(typed, unlockSentence) {
		if typed == "" {
			fmt.Fprintln(e.stdout, "\nNothing was asked. Your pact goes on, as you made it.")
		} else {
			fmt.Fprintln(e.stdout, "\nThat is not the sentence, so nothing was asked. Your pact goes on, as you made it.")
		}
		return errQuiet
	}
	return nil
}

// renderUnlockIntro writes what unlock shows before the sentence: the
// time left, the person's reason, and what typing it will do.
func renderUnlockIntro(w io.Writer, st control.Status, loc *time.Location) {
	p := st.Pact
	m := matured(st)
	if m != nil {
		fmt.Fprintf(w, "You asked to %s, and the cooldown has passed.\n", m.Change)
	}
	if p.End != nil {
		fmt.Fprintf(w, "Your pact ends on %s, in %s.\n", when(*p.End, loc), span(p.End.Sub(st.Now)))
	} else {
		fmt.Fprintf(w, "Your pact has no end date. It has held for %s.\n", span(st.Now.Sub(p.Start)))
	}
	if p.Reason != "" {
		fmt.Fprintf(w, "When you made it, you wrote: %q\n", p.Reason)
	}
	fmt.Fprintln(w)
	switch {
	case m != nil:
		fmt.Fprintf(w, "To keep your pact, just press Enter: the request then lapses on %s.\n", when(*m.ConfirmBy, loc))
		fmt.Fprintln(w, "To end it now, type this sentence and press Enter:")
	case p.ConfirmAfterCooldown:
		fmt.Fprintf(w, "Ending it early waits %s, and then you will be asked once more.\n", cooldownWords(p))
		fmt.Fprintln(w, "To keep your pact, just press Enter. To ask for the end, type this sentence and press Enter:")
	default:
		fmt.Fprintf(w, "Ending it early waits %s.\n", cooldownWords(p))
		fmt.Fprintln(w, "To keep your pact, just press Enter. To ask for the end, type this sentence and press Enter:")
	}
	fmt.Fprintf(w, "  %s\n", unlockSentence)
}

// renderUnlock writes the answer to `nocontact unlock`; st is the status
// from before it.
func renderUnlock(w io.Writer, res control.UnlockResult, st control.Status, loc *time.Location) {
	now := st.Now
	switch {
	case res.NoPact:
		fmt.Fprintln(w, "No pact is on, so there is nothing to end.")
	case res.Refused:
		fmt.Fprintln(w, "Your pact is strict, so it cannot be ended early. That is what you chose it to be.")
		if res.End != nil {
			fmt.Fprintf(w, "It ends by itself on %s, in %s.\n", when(*res.End, loc), span(res.End.Sub(now)))
		}
		if st.Pact.Reason != "" {
			fmt.Fprintf(w, "When you made it, you wrote: %q\n", st.Pact.Reason)
		}
	case res.Ended && st.Pact.Trial:
		fmt.Fprintln(w, "Your trial has ended: nothing of it is blocked any more.")
		fmt.Fprintln(w, "To begin a real pact: sudo nocontact start")
	case res.Ended:
		fmt.Fprintln(w, "\nYour pact has ended, as you asked. Nothing of it is blocked any more.")
		fmt.Fprintln(w, "Be gentle with yourself. To begin a new pact, whenever you want one: sudo nocontact start")
	case res.Confirmed && res.Pending != nil:
		fmt.Fprintf(w, "\nConfirmed: %s. What else your pact asks stays as it is.\n", res.Pending.Change)
	case res.Again && res.Pending != nil:
		fmt.Fprintf(w, "You asked already. Ending your pact can happen from %s, in %s; asking again does not change the wait.\n",
			when(res.Pending.Effective, loc), span(res.Pending.Effective.Sub(now)))
		if res.Pending.Confirm {
			fmt.Fprintln(w, "Then run 'sudo nocontact unlock' once more to confirm it.")
		}
		fmt.Fprintf(w, "If you change your mind: nocontact cancel %s\n", res.Pending.ID)
	case res.Pending != nil && res.Pending.Confirm:
		fmt.Fprintf(w, "\nEnding your pact is asked for. It can happen from %s, in %s.\n", when(res.Pending.Effective, loc), span(res.Pending.Effective.Sub(now)))
		fmt.Fprintln(w, "Then run 'sudo nocontact unlock' once more, within a day, to confirm it; if you do not, it lapses and your pact goes on.")
		fmt.Fprintf(w, "Until then everything stays blocked. If you change your mind: nocontact cancel %s\n", res.Pending.ID)
	case res.Pending != nil:
		fmt.Fprintf(w, "\nEnding your pact is queued. It takes effect on %s, in %s.\n", when(res.Pending.Effective, loc), span(res.Pending.Effective.Sub(now)))
		fmt.Fprintf(w, "Until then everything stays blocked. If you change your mind: nocontact cancel %s\n", res.Pending.ID)
	}
}
