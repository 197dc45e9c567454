"""Customers and leads of one decoration company.

The models live in modules by concern; this package re-exports them, so
``customers.models.X`` (and Django) find them."""

from customers.models.customers import (  # noqa: F401
    ONLINE_CHANNELS,
    POOLABLE_LIFECYCLES,
    Activity,
    BudgetTier,
    CookingFrequency,
    Customer,
    CustomerType,
    FollowUpStatus,
    FunctionalNeed,
    HouseCondition,
    Intent,
    Lifecycle,
    Loyalty,
    SourceChannel,
    Style,
    ValueTier,
    mask_email,
    mask_phone,
)
from customers.models.leads import (  # noqa: F401
    HUMAN_FOLLOW_UP_KINDS,
    FollowUp,
    FollowUpKind,
    FollowUpOutcome,
    Lead,
    LeadSlaBreach,
    LeadStatus,
    PoolClaim,
)
from customers.models.records import (  # noqa: F401
    AuditAction,
    CustomerAuditLog,
    CustomerMerge,
    CustomerOwnership,
    OwnershipReason,
    Segment,
)
from customers.models.settings import (  # noqa: F401
    CustomerSettings,
    SalesVisibility,
    default_business_days,
)
