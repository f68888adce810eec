"""Tencent Cloud SMS (SendSms, API 2021-01-11) through the official SDK (tencentcloud-sdk-python-sms).

The SDK signs with TC3-HMAC-SHA256 and needs only `requests`: it installs beside the locked stack unchanged.
Its own retries and region breaker stay off; TemplateGateway retries what is retryable. A request takes one
number, so the answer's SendStatusSet has one status, whose Code is "Ok" or an error code of its own.
"""
from __future__ import annotations

import logging
from urllib.parse import urlsplit

from tencentcloud.common import credential
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.sms.v20210111 import models, sms_client

from backoffice.otp.sms_providers.base import SmsConfigError, SmsRejected, SmsUnavailable, TemplateGateway

# The SDK logs whole requests and answers (phone, code) at DEBUG under this name: never let those out.
logging.getLogger("tencentcloud_sdk_common").addFilter(lambda record: record.levelno > logging.DEBUG)

RETRYABLE = {"ClientNetworkError", "ServerNetworkError", "InternalError", "InternalError.Timeout",
             "InternalError.SendAndRecvFail", "InternalError.OtherError", "InternalError.UnknownError",
             "InternalError.ParseBackendResponseFail", "LimitExceeded.GlobalSmsSendingRateLimit"}
NUMBER_REFUSED = {"LimitExceeded.DeliveryFrequencyLimit", "LimitExceeded.PhoneNumberThirtySecondLimit",
                  "LimitExceeded.PhoneNumberOneHourLimit", "LimitExceeded.PhoneNumberDailyLimit",
                  "LimitExceeded.PhoneNumberSameContentDailyLimit", "InvalidParameterValue.IncorrectPhoneNumber",
                  "FailedOperation.PhoneNumberInBlacklist", "FailedOperation.PhoneNumberParseFail"}


def classify(code: str):
    if code in RETRYABLE or code.startswith("RequestLimitExceeded"):
        return SmsUnavailable("tencent", code)
    if code in NUMBER_REFUSED:
        return SmsRejected("tencent", code)
    # AuthFailure.*, signature (签名) or template not approved, parameter lengths, the app's daily quota, balance
    return SmsConfigError("tencent", code)


class TencentSms(TemplateGateway):
    name = "tencent"

    def __init__(self, settings, **kwargs):
        super().__init__(settings, **kwargs)
        parts = urlsplit(settings.endpoint) if settings.endpoint else None
        http = HttpProfile(protocol=parts.scheme if parts else None, endpoint=parts.netloc if parts else None,
                           reqTimeout=max(1, round(settings.timeout)))
        cred = credential.Credential(settings.access_key_id, settings.access_key_secret)
        self.client = sms_client.SmsClient(cred, settings.region, ClientProfile(httpProfile=http))

    def _send_once(self, phone: str, template: str, params: dict) -> None:
        request = models.SendSmsRequest()
        request.PhoneNumberSet = ["+86" + phone]
        request.SmsSdkAppId = self.settings.sdk_app_id
        request.SignName = self.settings.sign_name
        request.TemplateId = template
        request.TemplateParamSet = list(params.values())  # {1}, {2}, ... in the order of our text
        try:
            answer = self.client.SendSms(request)
        except TencentCloudSDKException as exc:  # its message may quote the request: keep the code only
            raise classify(str(exc.get_code() or "UnknownError")) from None
        statuses = answer.SendStatusSet or []
        if len(statuses) != 1:
            raise SmsUnavailable("tencent", "unexpected answer (no SendStatusSet)")
        if statuses[0].Code != "Ok":
            raise classify(str(statuses[0].Code))
