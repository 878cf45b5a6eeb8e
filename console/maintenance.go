package console

import (
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/incident"
)

// maintenanceForm is the schedule-maintenance form, as posted.
type maintenanceForm struct {
	Name, Message, Start string
	Minutes              int
	Components           []string
	Notify               bool
	Messages, Names      map[string]string // language → the text in it, beside Message and Name
	Error                string
}

// maintenancePage is GET /console/maintenance/new.
func (cs *Console) maintenancePage(c *fiber.Ctx) error {
	return cs.maintenanceView(c, fiber.StatusOK, &maintenanceForm{Minutes: 60, Notify: true})
}

func (cs *Console) maintenanceView(c *fiber.Ctx, status int, f *maintenanceForm) error {
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	comps, err := cs.cfg.Incidents.Components(ctx, p.ID)
	if err != nil {
		return err
	}
	v := cs.newView(c, "ConsoleScheduleTitle", fiber.Map{"Form": f, "Components": leaves(comps), "TimeZone": p.TimeZone,
		"OtherLangs": otherLanguages(p), "Declaring": true})
	v.Nav = "overview"
	return cs.renderView(c, status, "maintenance", v)
}

// scheduleMaintenance is POST /console/maintenance: a maintenance that
// starts and completes on its own, as `herald maintenance schedule` makes.
func (cs *Console) scheduleMaintenance(c *fiber.Ctx) error {
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	args := c.Request().PostArgs()
	f := &maintenanceForm{Name: strings.TrimSpace(c.FormValue("name")), Message: strings.TrimSpace(c.FormValue("message")),
		Start: c.FormValue("start"), Notify: c.FormValue("notify") == "on"}
	f.Minutes, _ = strconv.Atoi(c.FormValue("minutes"))
	f.Messages, f.Names = readLanguageFields(c)
	for _, v := range args.PeekMulti("component") {
		f.Components = append(f.Components, string(v))
	}
	start, err := time.ParseInLocation("2006-01-02T15:04", f.Start, p.Location())
	if err != nil || f.Minutes <= 0 {
		f.Error = cs.newView(c, "", nil).T("ConsoleBadWindow")
		return cs.maintenanceView(c, fiber.StatusUnprocessableEntity, f)
	}
	start = start.UTC()
	end := start.Add(time.Duration(f.Minutes) * time.Minute)
	st, auto := incident.Scheduled, true
	in := incident.IncidentInput{Name: &f.Name, Names: f.Names, Status: &st, Body: &f.Message, Messages: f.Messages, DeliverNotifications: &f.Notify,
		ComponentIDs: append([]string{}, f.Components...), ScheduledFor: &start, ScheduledUntil: &end,
		ScheduledAutoInProgress: &auto, ScheduledAutoCompleted: &auto}
	inc, _, err := cs.cfg.Incidents.CreateIncident(ctx, p.ID, in, "")
	if err != nil {
		if f.Error = formError(err); f.Error == "" {
			return err
		}
		return cs.maintenanceView(c, fiber.StatusUnprocessableEntity, f)
	}
	return c.Redirect(Prefix+"/incidents/"+inc.ID, fiber.StatusSeeOther)
}
