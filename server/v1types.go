package server

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/incident/wire"
)

// This file holds the request bodies of the Statuspage v1 management API as
// the server decodes them: the shapes are incident/wire's (the CLI sends
// the same ones); these add the checks decode runs (see validator) and
// what the checks work out for the handler.

type pageRequest struct{ wire.PageRequest }

func (r *pageRequest) shape() any { return &r.PageRequest }

func (r *pageRequest) Valid() error {
	if r.Page == nil {
		return required("page")
	}
	return nil
}

type componentRequest struct{ wire.ComponentRequest }

func (r *componentRequest) shape() any { return &r.ComponentRequest }

func (r *componentRequest) Valid() error {
	if r.Component == nil {
		return required("component")
	}
	return nil
}

type groupRequest struct{ wire.ComponentGroupRequest }

func (r *groupRequest) shape() any { return &r.ComponentGroupRequest }

func (r *groupRequest) Valid() error {
	if r.Group == nil {
		return required("component_group")
	}
	return nil
}

type incidentRequest struct {
	wire.IncidentRequest

	in incident.IncidentInput // filled by Valid
}

// Valid parses the timestamps (the decoder cannot name a field whose
// string fails to parse) and builds the Service's input.
func (r *incidentRequest) shape() any { return &r.IncidentRequest }

func (r *incidentRequest) Valid() error {
	if r.Incident == nil {
		return required("incident")
	}
	var err error
	r.in, err = r.Incident.Input()
	return err
}

// readRaw notes "impact_override": null, which Statuspage reads as "back
// to the impact the components give" while "" leaves the override alone.
func (r *incidentRequest) readRaw(body []byte) error {
	var raw struct {
		Incident *struct {
			ImpactOverride json.RawMessage `json:"impact_override"`
		} `json:"incident"`
	}
	if json.Unmarshal(body, &raw) == nil && raw.Incident != nil && r.Incident != nil {
		r.Incident.ClearImpactOverride = string(raw.Incident.ImpactOverride) == "null"
	}
	return nil
}

// fieldError renames the Service's created_at to the field the client
// sent: backfill_date, when it named the creation time so.
func (r *incidentRequest) fieldError(err error) error {
	err = withField(err, "incident")
	var de *incident.Error
	if r.Incident.BackfillDate != nil && errors.As(err, &de) && de.Field == "incident.created_at" {
		cp := *de
		cp.Field = "incident.backfill_date"
		return &cp
	}
	return err
}

type incidentUpdateRequest struct {
	wire.IncidentUpdateRequest

	displayAt *time.Time // filled by Valid
}

func (r *incidentUpdateRequest) shape() any { return &r.IncidentUpdateRequest }

func (r *incidentUpdateRequest) Valid() error {
	if r.Update == nil {
		return required("incident_update")
	}
	var err error
	r.displayAt, err = wire.ParseTime("incident_update.display_at", r.Update.DisplayAt)
	return err
}

type tokenRequest struct{ wire.TokenRequest }

func (r *tokenRequest) shape() any { return &r.TokenRequest }

func (r *tokenRequest) Valid() error {
	if r.Token == nil {
		return required("token")
	}
	if r.Token.Role == nil {
		return incident.Invalid("token.role", "is required: admin, manager or agent")
	}
	return nil
}
