package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The questions start and unlock ask at the terminal. Each reads one line;
// the end of the input is an answer too (no), so a closed terminal never
// begins or ends anything.

// errNoAnswer is the end of the input before an answer.
var errNoAnswer = errors.New("no answer: the input ended")

// ask writes question and returns the line typed, trimmed.
func (e *env) ask(question string) (string, error) {
	fmt.Fprint(e.stdout, question)
	if e.lines == nil {
		if e.stdin == nil {
			fmt.Fprintln(e.stdout)
			return "", errNoAnswer
		}
		e.lines = bufio.NewReader(e.stdin)
	}
	line, err := e.lines.ReadString('\n')
	if err != nil && (line == "" || !errors.Is(err, io.EOF)) {
		fmt.Fprintln(e.stdout)
		return "", errNoAnswer
	}
	line = strings.TrimSpace(line)
	if e.echo {
		fmt.Fprintln(e.stdout, line)
	}
	return line, nil
}

// yesNo asks a question answered with yes or no; Enter gives def.
func (e *env) yesNo(question string, def bool) (bool, error) {
	hint := " [y/N] "
	if def {
		hint = " [Y/n] "
	}
	for range 3 {
		a, err := e.ask(question + hint)
		if err != nil {
			return false, err
		}
		switch strings.ToLower(a) {
		case "":
			return def, nil
		case "y", "yes":
			return true, nil
		case "n", "no":
			return false, nil
		}
		fmt.Fprintln(e.stdout, "  Please answer y (yes) or n (no).")
	}
	return false, errNoAnswer
}

// choose asks for one of options, by number or by its word; Enter gives
// the option numbered def (from 1).
func (e *env) choose(question string, options []option, def int) (string, error) {
	fmt.Fprintln(e.stdout, question)
	for i, o := range options {
		fmt.Fprintf(e.stdout, "  %d. %s\n", i+1, o.label)
	}
	for range 3 {
		a, err := e.ask(fmt.Sprintf("Your answer [%d]: ", def))
		if err != nil {
			return "", err
		}
		if a == "" {
			return options[def-1].value, nil
		}
		for i, o := range options {
			if a == fmt.Sprint(i+1) || strings.EqualFold(a, o.value) {
				return o.value, nil
			}
		}
		fmt.Fprintf(e.stdout, "  Please answer with a number from 1 to %d.\n", len(options))
	}
	return "", errNoAnswer
}

// option is one answer of choose: what it says and what it gives.
type option struct{ value, label string }

// unlockSentence is what unlock asks the person to type before it asks
// to end the pact early: a moment to read their own reasons, not a lock.
const unlockSentence = "I choose to end my pact early"

// sameSentence reports whether typed is the sentence, give or take case,
// spaces and a final full stop.
func sameSentence(typed, sentence string) bool {
	norm := func(s string) string {
		return strings.Join(strings.Fields(strings.TrimSuffix(strings.TrimSpace(strings.ToLower(s)), ".")), " ")
	}
	return norm(typed) == norm(sentence)
}
