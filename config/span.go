package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// This file holds the lengths of time a person writes: the pact's length,
// each phase's, the cooldown, and `nocontact extend 2w`. They are written
// so that no one can misread them: "m" alone is refused (a month or a
// minute?), months are calendar months ("mo"), and every length is said
// back in words ("1 month 2 weeks", never "1mo2w").

// Span is a length as a person writes it: whole calendar months, then a
// duration. A month is not a fixed number of hours, so a Span becomes a
// moment only from a start (see After).
type Span struct {
	Months int
	Dur    time.Duration
}

// IsZero reports whether s is no time at all.
func (s Span) IsZero() bool { return s.Months == 0 && s.Dur == 0 }

// After returns the moment s after t: the months counted on the calendar
// of loc (31 January and 1 month is the last day of February, 3 months is
// 30 April), at the same time of day, then the duration added.
func (s Span) After(t time.Time, loc *time.Location) time.Time {
	return AddMonths(t, s.Months, loc).Add(s.Dur)
}

// AddMonths returns t moved n calendar months on in loc, at the same time
// of day; a day that the target month lacks becomes its last day.
func AddMonths(t time.Time, n int, loc *time.Location) time.Time {
	if n == 0 {
		return t
	}
	if loc == nil {
		loc = t.Location()
	}
	l := t.In(loc)
	y, m, d := l.Date()
	if last := time.Date(y, m+time.Month(n)+1, 0, 12, 0, 0, 0, loc).Day(); d > last {
		d = last
	}
	return time.Date(y, m+time.Month(n), d, l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), loc)
}

// Plus returns s and o together.
func (s Span) Plus(o Span) Span { return Span{Months: s.Months + o.Months, Dur: s.Dur + o.Dur} }

// String writes s as a settings file may: "3mo", "44d", "1mo14d",
// "1d12h", "90min"; "0min" for no time. ParseSpan reads it back.
func (s Span) String() string {
	var b strings.Builder
	if s.Months > 0 {
		fmt.Fprintf(&b, "%dmo", s.Months)
	}
	d := s.Dur
	for _, u := range []struct {
		name string
		d    time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"min", time.Minute}, {"s", time.Second}} {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.d
		}
	}
	if b.Len() == 0 {
		return "0min"
	}
	return b.String()
}

// Words says s in words: "3 months", "30 days", "2 weeks", "1 month 2
// weeks", "1 day 12 hours"; "no time" for zero.
func (s Span) Words() string {
	var parts []string
	if s.Months > 0 {
		parts = append(parts, plural(s.Months, "month"))
	}
	if s.Dur > 0 || len(parts) == 0 {
		parts = append(parts, DurationWords(s.Dur))
	}
	return strings.Join(parts, " ")
}

// DurationWords says d in words, exactly: whole weeks when d is a whole
// number of weeks ("2 weeks"), else days ("30 days", "10 days"), then
// hours, minutes and seconds ("1 day 12 hours", "1 hour 30 minutes");
// "no time" for zero.
func DurationWords(d time.Duration) string {
	if d <= 0 {
		return "no time"
	}
	const day, week = 24 * time.Hour, 7 * 24 * time.Hour
	var parts []string
	if d%week == 0 {
		return plural(int(d/week), "week")
	}
	for _, u := range []struct {
		name string
		d    time.Duration
	}{{"day", day}, {"hour", time.Hour}, {"minute", time.Minute}, {"second", time.Second}} {
		if n := d / u.d; n > 0 {
			parts = append(parts, plural(int(n), u.name))
			d -= n * u.d
		}
	}
	if len(parts) == 0 {
		return "less than a second"
	}
	return strings.Join(parts, " ")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// spanHelp is the rule for lengths, said in every error about one.
const spanHelp = `want a number and a unit, like "48h", "2w", "30d" or "3mo": ` +
	`min, h, d, w and mo (minutes, hours, days, weeks and calendar months), or the words, like "30 days"; they may be combined, like "1w3d"`

// maxMonths bounds the months of a Span, like maxDuration its duration.
const maxMonths = 100 * 12

// units maps each unit a person may write, in lower case, to its length;
// month is the marker of a calendar month.
var units = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "secs": time.Second, "second": time.Second, "seconds": time.Second,
	"min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hrs": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour, "days": 24 * time.Hour,
	"w": 7 * 24 * time.Hour, "wk": 7 * 24 * time.Hour, "wks": 7 * 24 * time.Hour, "week": 7 * 24 * time.Hour, "weeks": 7 * 24 * time.Hour,
	"mo": month, "mos": month, "month": month, "months": month,
}

// month stands for a calendar month in units; it is never added as a
// duration.
const month = time.Duration(-1)

// ParseSpan reads a length: pairs of a whole number and a unit, like
// "48h", "2w", "1w3d", "3mo", "30 days" or "1 month 2 weeks" (see
// spanHelp). Spaces between and around the pairs are allowed, and so are
// commas and "and" between them. "m" alone is refused, because it could
// mean a month or a minute; the error suggests both. Lengths over 100
// years are refused.
func ParseSpan(s string) (Span, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return Span{}, fmt.Errorf("%q is empty: %s", s, spanHelp)
	}
	var out Span
	first := true
	for t != "" {
		if !first {
			t = strings.TrimLeft(t, " ,")
			if rest, ok := strings.CutPrefix(t, "and "); ok {
				t = strings.TrimLeft(rest, " ")
			}
		}
		first = false
		i := 0
		for i < len(t) && t[i] >= '0' && t[i] <= '9' {
			i++
		}
		if i == 0 {
			return Span{}, fmt.Errorf("%q: %s", s, spanHelp)
		}
		num := t[:i]
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > int64(maxDuration/time.Second) {
			return Span{}, fmt.Errorf("%q is longer than 100 years: %s", s, spanHelp)
		}
		t = strings.TrimLeft(t[i:], " ")
		j := 0
		for j < len(t) && t[j] >= 'a' && t[j] <= 'z' {
			j++
		}
		word := t[:j]
		t = t[j:]
		if word == "" {
			if t == "" {
				return Span{}, fmt.Errorf("%q: the number %s has no unit: write %q for %s days or %q for %s hours", s, num, num+"d", num, num+"h", num)
			}
			return Span{}, fmt.Errorf("%q: %s", s, spanHelp)
		}
		switch word {
		case "m":
			return Span{}, fmt.Errorf("%q: did you mean %s (%q) or %s (%q)? Write mo for months and min for minutes",
				s, plural(int(n), "month"), num+"mo", plural(int(n), "minute"), num+"min")
		case "y", "yr", "yrs", "year", "years":
			return Span{}, fmt.Errorf("%q: write years as months, like %q", s, strconv.FormatInt(12*n, 10)+"mo")
		}
		u, ok := units[word]
		if !ok {
			return Span{}, fmt.Errorf("%q: %q is not a unit: %s", s, word, spanHelp)
		}
		if u == month {
			if n > maxMonths || out.Months+int(n) > maxMonths {
				return Span{}, fmt.Errorf("%q is longer than 100 years: %s", s, spanHelp)
			}
			out.Months += int(n)
		} else {
			if n > int64(maxDuration/u) {
				return Span{}, fmt.Errorf("%q is longer than 100 years: %s", s, spanHelp)
			}
			out.Dur += time.Duration(n) * u
			if out.Dur > maxDuration || out.Dur < 0 {
				return Span{}, fmt.Errorf("%q is longer than 100 years: %s", s, spanHelp)
			}
		}
	}
	return out, nil
}

// ParseDuration reads a length that must not hold months (a cooldown):
// see ParseSpan.
func ParseDuration(s string) (time.Duration, error) {
	sp, err := ParseSpan(s)
	if err != nil {
		return 0, err
	}
	if sp.Months > 0 {
		return 0, fmt.Errorf("%q: months are not allowed here, since they are not all the same length: write days, like %q", s, strconv.Itoa(30*sp.Months)+"d")
	}
	return sp.Dur, nil
}
