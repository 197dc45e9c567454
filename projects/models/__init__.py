"""Decoration projects of one tenant.

The models live in modules by concern; this package re-exports them, so
``projects.models.X`` (and Django) find them."""

from projects.models.changes import (  # noqa: F401
    ChangeOrder,
    ChangeOrderEvent,
    ChangeOrderLine,
    ChangeOrderStatus,
    DecisionChannel,
    Material,
    MaterialReport,
)
from projects.models.share import (  # noqa: F401
    ConfirmationCode,
    ConstructionCallback,
    ShareLink,
)
from projects.models.site import (  # noqa: F401
    ChecklistItem,
    DailyLog,
    DesignPlan,
    DesignPlanRevision,
    Inspection,
    InspectionItem,
    InspectionKind,
    Rectification,
    SitePhoto,
    _ext,
    photo_upload_to,
    report_upload_to,
    thumb_upload_to,
)
from projects.models.stages import (  # noqa: F401
    CONSTRUCTION_STAGES,
    DEFAULT_PLANNED_DAYS,
    DEFAULT_SIGNING_STEPS,
    DESIGN_STAGES,
    PM_STAGES,
    STAGE_ORDER,
    Acceptance,
    AcceptanceKind,
    Project,
    SigningPolicy,
    Stage,
    StageHistory,
    StageOverdueAlert,
    StageSetting,
    default_signing_steps,
    stage_index,
)
