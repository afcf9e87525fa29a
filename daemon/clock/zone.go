package clock

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Zone is a time zone as the pact keeps it: quiet hours are kept in the
// zone in force when they began, so that changing the machine's zone
// cannot shift or shorten them without the cooldown. A Zone can be written
// to the state and turned back into a *time.Location after a restart, even
// when the machine's zone has changed since.
type Zone struct {
	// Name is the zone's IANA name ("Europe/Paris"), "" when it is not
	// known; "Local" stands for the process's time.Local (tests only).
	Name string `json:"name,omitempty"`
	// TZif is the zone's rules as the system holds them
	// (/etc/localtime), kept when the name alone cannot say them.
	TZif []byte `json:"tzif,omitempty"`
	// Offset is the zone's offset from UTC in seconds when it was read,
	// the last resort when neither a name nor rules are known.
	Offset int `json:"offset,omitempty"`
}

// ZoneOf returns the Zone of loc, named by loc's name. For time.Local
// that name is "Local": use LocalZone for the machine's real zone.
func ZoneOf(loc *time.Location) Zone {
	if loc == nil {
		loc = time.Local
	}
	_, off := time.Date(2000, 1, 1, 0, 0, 0, 0, loc).Zone()
	return Zone{Name: loc.String(), Offset: off}
}

// ID names the zone: two Zones with the same ID keep time the same way.
func (z Zone) ID() string {
	switch {
	case len(z.TZif) > 0:
		sum := sha256.Sum256(z.TZif)
		id := "tzif-" + hex.EncodeToString(sum[:6])
		if z.Name != "" {
			id = z.Name + "~" + id
		}
		return id
	case z.Name != "":
		return z.Name
	default:
		return fixedName(z.Offset)
	}
}

// Location returns the zone to compute local times in. It does not fail:
// a zone whose rules cannot be loaded any more (an unknown name) keeps
// the offset it had when it was read.
func (z Zone) Location() *time.Location {
	if len(z.TZif) > 0 {
		name := z.Name
		if name == "" {
			name = "local"
		}
		if loc, err := time.LoadLocationFromTZData(name, z.TZif); err == nil {
			return loc
		}
	}
	if strings.HasPrefix(z.Name, "windows:") && z.Name == LocalZone().Name {
		return time.Local // Go knows the machine's own Windows zone only as time.Local
	}
	if z.Name != "" {
		if loc, err := time.LoadLocation(z.Name); err == nil {
			return loc
		}
	}
	return time.FixedZone(fixedName(z.Offset), z.Offset)
}

func fixedName(off int) string {
	sign := '+'
	if off < 0 {
		sign, off = '-', -off
	}
	return fmt.Sprintf("UTC%c%02d:%02d", sign, off/3600, off%3600/60)
}
