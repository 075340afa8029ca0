"""Webhook URLs' address checks: moved to the core module `arrears.netguard` (messaging and
identity use them too). This name stays importable and IS that module (not a copy), so that
anything patched or read through it is netguard's own."""

import sys

from arrears import netguard

sys.modules[__name__] = netguard
