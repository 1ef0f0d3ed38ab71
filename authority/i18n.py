"""Two languages for people: Simplified Chinese first (zh-CN), English available.

Messages are registered by each package at import time with :func:`register_messages`
(``{"key": {"zh-CN": "...", "en": "..."}}``) and looked up with :func:`t`, which is
also a Jinja global. The language of a request is, in order: ``?lang=`` (which also
sets the ``lang`` cookie), the ``lang`` cookie, the browser's Accept-Language, and
finally zh-CN. Missing translations fall back to zh-CN, then to the key itself, so a
page never breaks on a missing string.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, current_app, g, has_request_context, request

LOCALES = ("zh-CN", "en")
DEFAULT_LOCALE = "zh-CN"
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600

# Filled at import time by register_messages(); never changed while serving.
_MESSAGES: dict[str, dict[str, str]] = {}


def register_messages(messages: dict[str, dict[str, str]]) -> None:
    """Add translations; each value maps a locale ("zh-CN", "en") to its text.

    A key registered twice with different text is a programming error (two packages
    fighting over one string), so it raises instead of silently winning.
    """
    for key, texts in messages.items():
        unknown = set(texts) - set(LOCALES)
        if unknown:
            raise ValueError(f"message {key!r}: unknown locale(s) {sorted(unknown)}")
        if DEFAULT_LOCALE not in texts:
            raise ValueError(f"message {key!r} has no {DEFAULT_LOCALE} text")
        existing = _MESSAGES.get(key)
        if existing is not None and existing != texts:
            raise ValueError(f"message {key!r} is already registered with other text")
        _MESSAGES[key] = dict(texts)


def normalise_locale(value: str | None) -> str | None:
    """Map "zh", "zh-cn", "zh_CN", "en-GB"... to one of LOCALES, or None."""
    if not value:
        return None
    tag = value.strip().replace("_", "-").lower()
    if tag.startswith("zh"):
        # Traditional-script requests still get Simplified Chinese: it is the only
        # Chinese we have and is closer than English for those readers.
        return "zh-CN"
    if tag.startswith("en"):
        return "en"
    return None


def get_locale() -> str:
    """The current request's language ("zh-CN" or "en"); zh-CN outside a request."""
    if not has_request_context():
        return DEFAULT_LOCALE
    cached: str | None = g.get("_locale")
    if cached is not None:
        return cached
    locale = (
        normalise_locale(request.args.get("lang"))
        or normalise_locale(request.cookies.get(COOKIE))
        or _from_accept_language()
        or DEFAULT_LOCALE
    )
    g._locale = locale
    return locale


def _from_accept_language() -> str | None:
    # Accept-Language is ordered by quality; the first tag we can serve wins.
    for tag, quality in request.accept_languages:
        if quality > 0 and (locale := normalise_locale(tag)):
            return locale
    return None


def t(key: str, /, locale: str | None = None, **kwargs: Any) -> str:
    """The text for ``key`` in the current language, formatted with ``kwargs``."""
    texts = _MESSAGES.get(key)
    if texts is None:
        return key
    text = texts.get(locale or get_locale()) or texts[DEFAULT_LOCALE]
    return text.format(**kwargs) if kwargs else text


def html_lang() -> str:
    """The value for ``<html lang=…>``."""
    return "zh-Hans-CN" if get_locale() == "zh-CN" else "en"


def lang_url(locale: str) -> str:
    """The current page's path and query with ``lang`` set to ``locale`` (same origin)."""
    args = request.args.to_dict(flat=False)
    args["lang"] = [locale]
    return f"{request.path}?{urlencode(args, doseq=True)}"


def setup_i18n(app: Flask) -> None:
    """Expose ``t`` and the locale to templates; remember ``?lang=`` in a cookie."""
    app.jinja_env.globals.update(
        t=t, get_locale=get_locale, html_lang=html_lang, lang_url=lang_url, LOCALES=LOCALES
    )

    @app.after_request
    def _remember_language(response: Response) -> Response:
        chosen = normalise_locale(request.args.get("lang"))
        if chosen is not None and request.cookies.get(COOKIE) != chosen:
            settings = current_app.extensions["authority.settings"]
            response.set_cookie(
                COOKIE,
                chosen,
                max_age=COOKIE_MAX_AGE,
                secure=settings.is_https,
                httponly=True,
                samesite="Lax",
            )
        # Pages differ by language, so shared caches must key on what chose it. (Set
        # directly when no Vary yet: werkzeug's vary property re-parses the header on
        # every change, which the token endpoint felt.)
        if "Vary" not in response.headers:
            response.headers["Vary"] = "Accept-Language, Cookie"
        else:
            response.vary.add("Accept-Language")
            response.vary.add("Cookie")
        return response


register_messages(
    {
        "site.name": {"zh-CN": "统一身份认证与电子证照", "en": "Unified Identity and E-Licenses"},
        "site.tagline": {
            "zh-CN": "一号一窗一网：一次登录，全省通办；电子证照，亮证即验。",
            "en": "One number, one window, one network: log in once for every provincial "
            "service; show a license and have it verified on the spot.",
        },
        "nav.home": {"zh-CN": "首页", "en": "Home"},
        "nav.main": {"zh-CN": "主导航", "en": "Main navigation"},
        "nav.language": {"zh-CN": "语言", "en": "Language"},
        "nav.account_menu": {"zh-CN": "我的账户", "en": "My account"},
        "nav.licenses": {"zh-CN": "我的证照", "en": "My licenses"},
        "nav.account": {"zh-CN": "账户", "en": "Account"},
        "nav.logout": {"zh-CN": "退出登录", "en": "Log out"},
        "nav.skip": {"zh-CN": "跳到正文", "en": "Skip to content"},
        "footer.text": {
            "zh-CN": "本服务使用国产商用密码算法（SM2/SM3/SM4）保护身份与证照。",
            "en": "This service protects identities and licenses with SM2, SM3 and SM4 "
            "commercial cryptography.",
        },
        "footer.health": {"zh-CN": "服务状态", "en": "Service status"},
        "home.title": {"zh-CN": "欢迎使用", "en": "Welcome"},
        "home.login": {"zh-CN": "登录", "en": "Log in"},
        "home.login.text": {
            "zh-CN": "使用身份证号或手机号登录，一次登录即可使用全省政务服务。",
            "en": "Log in with your ID number or phone number once for every provincial service.",
        },
        "home.account": {"zh-CN": "我的账户", "en": "My account"},
        "home.account.text": {
            "zh-CN": "管理密码、两步验证和已授权的应用。",
            "en": "Manage your password, two-step verification and connected apps.",
        },
        "home.licenses": {"zh-CN": "我的证照", "en": "My licenses"},
        "home.licenses.text": {
            "zh-CN": "查看您和您所代理单位的电子证照，出示二维码。",
            "en": "See your and your organisations' e-licenses and show their QR codes.",
        },
        "home.verify": {"zh-CN": "证照核验", "en": "Verify a license"},
        "home.verify.text": {
            "zh-CN": "窗口人员扫描证照二维码，离线也能核验真伪与状态。",
            "en": "Service windows scan a license QR code and check it, even offline.",
        },
        "home.empty": {
            "zh-CN": "服务正在部署中，功能将陆续开放。",
            "en": "The service is being deployed; features will appear here as they open.",
        },
        "error.title": {"zh-CN": "出错了", "en": "Something went wrong"},
        "error.back": {"zh-CN": "返回首页", "en": "Back to the home page"},
        "error.request_id": {"zh-CN": "请求编号", "en": "Request ID"},
        "error.400": {"zh-CN": "请求无效", "en": "Bad request"},
        "error.400.text": {
            "zh-CN": "请求无法处理，请检查后重试。",
            "en": "The request could not be processed. Please check it and try again.",
        },
        "error.csrf": {"zh-CN": "表单已过期", "en": "The form has expired"},
        "error.csrf.text": {
            "zh-CN": "为保护您的安全，表单已失效。请返回、刷新页面后重新提交。",
            "en": "To protect you, this form is no longer valid. Go back, reload the page "
            "and submit it again.",
        },
        "error.403": {"zh-CN": "无权访问", "en": "Forbidden"},
        "error.403.text": {
            "zh-CN": "您没有访问此页面的权限。",
            "en": "You do not have permission to see this page.",
        },
        "error.404": {"zh-CN": "页面不存在", "en": "Page not found"},
        "error.404.text": {
            "zh-CN": "您访问的页面不存在或已被移除，请检查地址。",
            "en": "The page you asked for does not exist or has moved. Please check the address.",
        },
        "error.405": {"zh-CN": "不支持的请求方式", "en": "Method not allowed"},
        "error.405.text": {
            "zh-CN": "此页面不支持这种请求方式。",
            "en": "This page does not accept this kind of request.",
        },
        "error.413": {"zh-CN": "提交的内容过大", "en": "Request too large"},
        "error.413.text": {
            "zh-CN": "提交的内容超过了允许的大小，请减小后重试。",
            "en": "What you sent is larger than allowed. Please make it smaller and retry.",
        },
        "error.429": {"zh-CN": "请求过于频繁", "en": "Too many requests"},
        "error.429.text": {
            "zh-CN": "请稍候再试。",
            "en": "Please wait a moment and try again.",
        },
        "error.500": {"zh-CN": "服务器内部错误", "en": "Internal server error"},
        "error.500.text": {
            "zh-CN": "服务暂时出现问题，我们已记录此错误。请稍后重试，如需帮助请提供请求编号。",
            "en": "Something went wrong on our side and it has been logged. Please try again "
            "later; if you need help, quote the request ID.",
        },
        "error.generic.text": {
            "zh-CN": "请求未能完成。",
            "en": "The request could not be completed.",
        },
    }
)
