"""REST API of customers, leads, follow-ups, segments and the public intake endpoint. Thin.

The API lives in modules by concern; this package re-exports it, so ``customers.api.X`` keeps working."""

from customers.api.customers import (  # noqa: F401
    CUSTOMER_ROWS,
    READ_ONLY_CUSTOMER_FIELDS,
    CustomerSerializer,
    CustomerViewSet,
    VisibleCustomerField,
    _phone_display,
)
from customers.api.follow_ups import (  # noqa: F401
    FollowUpFilter,
    FollowUpSerializer,
    FollowUpViewSet,
    SegmentSerializer,
    SegmentViewSet,
)
from customers.api.intake import (  # noqa: F401
    IntakeSerializer,
    IntakeThrottle,
    IntakeView,
)
from customers.api.leads import (  # noqa: F401
    IntakeKeyIssuedSerializer,
    IntakeKeyRotateSerializer,
    IntakeKeyStatusSerializer,
    LeadCreateSerializer,
    LeadFilter,
    LeadScoreSummarySerializer,
    LeadSerializer,
    LeadViewSet,
    StatsParamsSerializer,
)
