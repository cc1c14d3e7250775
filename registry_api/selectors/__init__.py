"""Read-side queries shared by /v2/, the portal and the admin (writes live in `services`).

- `discovery`: tag lists, the catalog and referrers, as /v2/ pages them.
- `dashboard`: counts, storage by namespace, pushes per day, recent pushes.
- `repositories`: the portal's repository list, sizes (total and unique), tag pages.
- `manifests`: one manifest with its layers, index children, config and referrers; tag comparison.
"""
from .dashboard import registry_summary
from .discovery import Page, ReferrersPage, catalog_page, referrers_of, referrers_page, tag_list_page

__all__ = [
    "Page", "ReferrersPage", "catalog_page", "referrers_of", "referrers_page", "registry_summary", "tag_list_page",
]
