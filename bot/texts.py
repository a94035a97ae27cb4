"""Every user-facing string, in one catalog (Chinese first; another language can follow).

Values are HTML templates for `str.format`; callers escape user text before filling them.
"""

from __future__ import annotations

from bot.model import Action, Rating, Role, State

STATE_NAMES = {
    State.PENDING: "待签收",
    State.IN_PROGRESS: "办理中",
    State.CLOSED: "已办结（待评价）",
    State.RATED: "已评价",
    State.WITHDRAWN: "已撤回",
}

ROLE_NAMES = {
    Role.GUEST: "访客",
    Role.ENTERPRISE: "企业联络员",
    Role.OFFICIAL: "承办人",
    Role.HEAD: "科室负责人",
    Role.ADMIN: "局领导/督办员",
}

RATING_NAMES = {
    Rating.SATISFIED: "满意",
    Rating.BASIC: "基本满意",
    Rating.DISSATISFIED: "不满意",
}

# Button labels are part of the chat contract (SPEC §6): keep them as they are.
BUTTONS = {
    Action.CLAIM: "签收",
    Action.REPLY: "回复",
    Action.NOTE: "备注",
    Action.TRANSFER: "转办",
    Action.CLOSE: "办结",
    Action.EXTEND: "延期",
    Action.SUPPLEMENT: "补充",
    Action.WITHDRAW: "撤回",
    "submit": "提交",
    "cancel": "取消",
    "view": "查看",
    "approve_extension": "同意延期",
    "deny_extension": "不同意",
    "task_report": "报告进展",
    "task_request_close": "申请销号",
    "task_approve": "同意销号",
    "task_deem": "视同完成，持续整改",
    "task_send_back": "退回",
    "task_export": "导出台账",
    "official": "承办人",
    "head": "科室负责人",
}

MESSAGE_KIND_NAMES = {
    "reply": "回复",
    "note": "备注",
    "supplement": "补充",
    "rating_comment": "评价意见",
}

EVENT_NAMES = {
    "file": "提交",
    "claim": "签收",
    "reply": "回复",
    "note": "备注",
    "transfer": "转办",
    "close": "办结",
    "rate": "评价",
    "reopen": "不满意重办",
    "rating_comment": "评价意见",
    "supplement": "补充",
    "withdraw": "撤回",
    "extension_request": "申请延期",
    "extension_approved": "同意延期",
    "extension_denied": "不同意延期",
}

NOTICE_KIND_NAMES = {
    "due_soon": "到期前提示",
    "due_today": "到期当日提示",
    "unclaimed": "超时未签收提示",
    "overdue": "超期督办",
    "raise": "提级督办（挂牌督办）",
}

FIELD_NAMES = {
    "enterprise_name": "企业名称",
    "uscc": "统一社会信用代码",
    "contact_name": "联系人姓名",
    "phone": "联系电话",
    "description": "诉求内容",
    "reply": "回复内容",
    "note": "备注内容",
    "reason": "原因",
    "summary": "办结情况",
    "supplement": "补充内容",
    "comment": "评价意见",
    "category": "诉求类别",
    "department": "部门",
    "attachments": "附件",
    "enterprise": "企业",
    "official": "承办人",
    "new_due": "新的办结期限",
    "report": "进展情况",
    "week": "周次（如 2026-W47）",
    "period": "起止日期",
}

INPUT_REASONS = {
    "empty": "{field}不能为空，请重新输入。",
    "too_short": "{field}至少需要 {limit} 个字，请补充后重新发送。",
    "too_long": "{field}不能超过 {limit} 个字（当前过长），请精简后重新发送。",
    "invalid": "{field}格式不正确，请核对后重新输入。",
    "unknown": "未找到该{field}，请核对后重新输入。",
    "too_many": "{field}最多 {limit} 个。",
    "same": "所选{field}就是当前承办单位，请选择其他部门。",
    "not_later": "{field}须晚于当前期限 {limit}，请重新输入（格式 YYYY-MM-DD）。",
    "not_working_day": "{field}须为工作日，请重新输入（格式 YYYY-MM-DD）。",
}

MESSAGES = {
    # generic
    "error_generic": "操作未能完成，请稍后再试。",
    "error_internal": "系统繁忙，操作未完成，请稍后重试。如多次失败请联系管理员。",
    "error_not_registered": "您尚未登记企业信息，请先发送 /start 完成登记。",
    "error_not_allowed": "您没有权限执行此操作。",
    "error_appeal_not_found": "未找到该诉求，或您无权查看。",
    "error_not_your_appeal": "诉求 {number} 不由您办理，无法执行此操作。",
    "error_invalid_transition": "诉求 {number} 当前状态为“{state_name}”，不能执行此操作。",
    "error_stale_action": (
        "此按钮已失效：诉求 {number} 的状态已变化。请发送 /view {number} 查看最新情况。"
    ),
    "error_already_registered": "您已登记，无需重复登记。发送 /help 查看可用功能。",
    "error_enterprise_taken": (
        "该统一社会信用代码已由其他联络员登记。如需变更联络员，请联系管理员。"
    ),
    "error_invite_invalid": "邀请链接无效：{reason_text}请向管理员索取新的邀请链接。",
    "error_extension_pending": "诉求 {number} 已有一项延期申请待审批，请等待审批结果。",
    "error_extension_too_late": "诉求 {number} 已超过办结期限 {due}，不能再申请延期，请尽快办结。",
    "error_task_not_found": "未找到该整改任务，或您无权查看。",
    "error_task_stale": "此按钮已失效：第{seq}项整改任务的状态已变化。请发送 /tasks 查看最新情况。",
    "error_task_wrong_state": "第{seq}项整改任务当前状态为“{label}”，不能执行此操作。",
    "error_task_import": "导入失败，共 {count} 处问题，未导入任何任务：",
    "error_task_file": "无法读取该文件：{reason}。请发送 CSV 或 XLSX 文件。",
    "error_rating_expired": "诉求 {number} 的评价期限已过，已记为“未评价”。",
    "invite_unknown": "该链接不存在。",
    "invite_used": "该链接已被使用。",
    "invite_expired": "该链接已过期。",
    "unknown_command": "无法识别的指令。发送 /help 查看可用功能。",
    "plain_text_hint": "请使用菜单中的指令。发送 /help 查看可用功能。",
    "cancelled": "已取消，未做任何更改。",
    "nothing_to_cancel": "当前没有进行中的操作。",
    "private_only": "请在与机器人的私聊中使用此功能。",
    # start / registration
    "welcome_guest": (
        "欢迎使用<b>涉企诉求直通车</b>（{org}）。\n"
        "企业可在此提交诉求，相关部门限时办理、全程留痕。\n\n"
        "首次使用请登记企业信息（可随时发送 /cancel 取消）。\n"
        "第 1 步（共 4 步）：请输入<b>企业名称</b>。"
    ),
    "welcome_back": "您好，{name}（{role}）。发送 /help 查看可用功能。",
    "ask_uscc": "第 2 步：请输入 18 位<b>统一社会信用代码</b>。",
    "ask_contact": "第 3 步：请输入<b>联系人姓名</b>。",
    "ask_phone": "第 4 步：请输入<b>联系电话</b>（手机或座机）。",
    "registered": (
        "登记成功。\n企业：{name}\n统一社会信用代码：{uscc}\n联系人：{contact}（{phone}）\n\n"
        "发送 /new 提交诉求，/my 查看我的诉求。"
    ),
    "joined": "欢迎加入！您已成为<b>{department}</b>的{role}。发送 /inbox 查看待办诉求。",
    # help
    "help_guest": "发送 /start 登记企业信息后即可提交诉求。\n/help 帮助  /cancel 取消当前操作",
    "help_enterprise": (
        "<b>企业联络员</b>可用功能：\n"
        "/new 提交诉求\n/my 我的诉求\n/view 编号 查看诉求详情（如 /view SQ-2026-000001）\n"
        "/cancel 取消当前操作\n/help 帮助\n\n"
        "在诉求详情中可“补充”材料或“撤回”诉求；办结后请对办理结果进行评价。"
    ),
    "help_staff": (
        "<b>{role}</b>（{department}）可用功能：\n"
        "/inbox 待办诉求\n/overdue 超期诉求\n/view 编号 查看诉求详情\n"
        "/tasks 我负责的整改任务\n/digest 本部门周报\n/cancel 取消当前操作\n/help 帮助\n\n"
        "在诉求详情中可“签收”“回复”“备注”“转办”“延期”“办结”。"
    ),
    "help_admin": (
        "<b>局领导/督办员</b>可用功能：\n"
        "/inbox 全部在办诉求\n/overdue 超期诉求\n/view 编号 查看诉求详情\n"
        "/tasks 整改任务台账（/tasks import 导入，/tasks export 导出）\n"
        "/digest [2026-W47] 督察通报\n/stats 实时数据\n/export [起始日期] [截止日期] 导出诉求台账\n"
        "/invite 生成承办人/科室负责人邀请链接\n/baobao 统一社会信用代码 设置包保责任人\n"
        "/cancel 取消当前操作\n/help 帮助"
    ),
    # filing
    "ask_category": "请选择<b>诉求类别</b>（可随时发送 /cancel 取消）：",
    "category_unknown": "未找到该类别，请点击下方按钮选择诉求类别。",
    "ask_description": (
        "类别：{category}（办理时限 {days} 个工作日）\n"
        "请用一条消息<b>描述您的诉求</b>（{min}–{max} 字）。"
    ),
    "ask_attachments": (
        "可以发送照片或文件作为附件（最多 {max} 个，可选）。\n"
        "确认无误后点击“提交”，或点击“取消”放弃。\n\n"
        "<b>类别</b>：{category}\n<b>内容</b>：{description}\n<b>附件</b>：{count} 个"
    ),
    "attachment_added": "已添加附件（共 {count} 个）。继续发送，或点击“提交”。",
    "attachments_full": "附件已达上限 {max} 个。请点击“提交”或“取消”。",
    "draft_expired": "该草稿已失效（可能因系统重启），请重新发送 /new 提交诉求。",
    "stale_button": "此按钮已失效，请重新操作。发送 /help 查看可用功能。",
    "awaiting_submit": "请点击“提交”完成提交，或继续发送附件；发送 /cancel 取消。",
    "filed": (
        "诉求已提交。\n编号：<b>{number}</b>\n类别：{category}\n承办单位：{department}\n"
        "办理时限：{days} 个工作日，应于 <b>{due}</b> 前办结。\n发送 /view {number} 查看进展。"
    ),
    # lists
    "my_empty": "您还没有提交过诉求。发送 /new 提交诉求。",
    "my_header": "<b>我的诉求</b>（最近 {count} 件）：",
    "inbox_empty": "当前没有待办诉求。",
    "inbox_header": "<b>待办诉求</b>（{count} 件，按办结期限排序）：",
    "overdue_empty": "当前没有超期诉求。",
    "overdue_header": "<b>超期诉求</b>（{count} 件）：",
    "list_line": "{number}｜{category}｜{state}｜期限 {due}",
    "list_line_staff": "{number}｜{enterprise}｜{category}｜{state}｜期限 {due}",
    "view_usage": "请发送诉求编号，例如：/view SQ-2026-000001",
    # the appeal card
    "card": (
        "<b>诉求 {number}</b>\n企业：{enterprise}\n类别：{category}\n状态：{state}\n"
        "承办单位：{department}{owner}\n办结期限：{due}\n提交时间：{created}\n\n"
        "<b>诉求内容</b>：\n{description}"
    ),
    "card_owner": "（承办人：{name}）",
    "card_attachments": "附件：{count} 个",
    "card_resolution": "<b>办结情况</b>：{resolution}",
    "card_rating": "<b>评价</b>：{rating}",
    "card_messages": "<b>往来记录</b>：",
    "card_history": "<b>办理记录</b>：",
    "card_message_line": "{time} {kind}（{author}）：{text}",
    "card_event_line": "{time} {action}（{actor}）{detail}",
    # handling
    "ask_reply": "请输入对诉求 {number} 的<b>回复</b>（将发送给企业）：",
    "ask_note": "请输入诉求 {number} 的<b>内部备注</b>（企业不可见）：",
    "ask_transfer_dept": "请选择诉求 {number} 要<b>转办</b>的部门：",
    "ask_transfer_reason": "转办至 {department}。请输入<b>转办原因</b>：",
    "ask_close": "请输入诉求 {number} 的<b>办结情况</b>（将发送给企业并请其评价）：",
    "ask_supplement": "请输入对诉求 {number} 的<b>补充说明</b>：",
    "ask_withdraw": "请输入<b>撤回原因</b>（诉求 {number}）：",
    "ask_comment": "已记录评价“{rating}”。如有意见可直接发送文字，发送 /skip 跳过。",
    "ask_comment_reopen": (
        "已记录评价“不满意”，诉求 {number} 已重新交办，新的办结期限为 <b>{due}</b>。\n"
        "请说明不满意的原因（可选），发送 /skip 跳过。"
    ),
    "dept_unknown": "未找到该部门，请点击按钮选择，或输入部门全称。",
    "done_claim": "您已签收诉求 {number}，办结期限 {due}。",
    "done_reply": "回复已发送给企业（诉求 {number}）。",
    "done_note": "备注已保存（诉求 {number}），企业不可见。",
    "done_transfer": "诉求 {number} 已转办至 {department}。",
    "done_close": "诉求 {number} 已办结，已请企业评价。",
    "done_supplement": "补充说明已送达承办单位（诉求 {number}）。",
    "done_withdraw": "诉求 {number} 已撤回。",
    "done_rate": "感谢您的评价！（诉求 {number}）",
    "done_comment": "评价意见已记录（诉求 {number}）。",
    "skipped": "好的。",
    # notices
    "notice_new_appeal": (
        "<b>新诉求 {number}</b>（{category}）\n企业：{enterprise}\n办结期限：{due}，"
        "请于 {claim_due} 前签收。\n\n{description}"
    ),
    "notice_transferred": (
        "<b>转办诉求 {number}</b>（{category}）\n企业：{enterprise}\n转办原因：{text}\n"
        "办结期限：{due}，请于 {claim_due} 前签收。\n\n{description}"
    ),
    "notice_transferred_public": "您的诉求 {number} 已转至 {department} 办理。",
    "notice_claimed": "您的诉求 {number} 已由 {department} {owner} 签收办理，办结期限 {due}。",
    "notice_reply": "<b>诉求 {number} 有新回复</b>（{department}）：\n{text}",
    "notice_note": "诉求 {number} 有新备注：\n{text}",
    "notice_closed": (
        "<b>您的诉求 {number} 已办结</b>（{department}）。\n办结情况：{text}\n\n"
        "请对办理结果进行评价（{rating_due} 前有效）："
    ),
    "notice_supplement": "<b>企业补充说明</b>（诉求 {number}）：\n{text}",
    "notice_withdrawn": "企业已撤回诉求 {number}。撤回原因：{text}",
    "notice_rated": "诉求 {number} 企业评价：{rating}。",
    "notice_reopened": (
        "<b>诉求 {number} 企业评价不满意，已重办</b>。新的办结期限 {due}，请继续办理。"
    ),
    "notice_rating_comment": "诉求 {number} 企业评价意见：{text}",
    # extensions
    "ask_extension_date": (
        "诉求 {number} 当前办结期限为 {due}。请输入申请延期后的<b>新期限</b>（工作日，格式 YYYY-MM-DD）："
    ),
    "ask_extension_reason": "新期限 {new_due}。请输入<b>延期原因</b>：",
    "done_extension_request": "延期申请已提交（诉求 {number}，申请延至 {new_due}），等待科室负责人审批。",
    "done_extension_approved": "已同意诉求 {number} 延期至 {new_due}。",
    "done_extension_denied": "已不同意诉求 {number} 的延期申请，办结期限仍为 {due}。",
    "notice_extension_request": (
        "<b>延期申请</b>：诉求 {number}（{enterprise}，{category}）\n承办人：{owner}\n"
        "办结期限 {due} → 申请延至 <b>{new_due}</b>\n原因：{text}"
    ),
    "notice_extension_approved": "诉求 {number} 的延期申请已获同意，新的办结期限为 <b>{new_due}</b>。",
    "notice_extension_denied": "诉求 {number} 的延期申请未获同意，办结期限仍为 {due}，请按期办结。",
    "notice_extension_public": "您的诉求 {number} 经审批延期办理，新的办结期限为 {new_due}。",
    # the ladder
    "ladder_due_soon": (
        "【{serial}】<b>到期提示</b>：诉求 {number}（{enterprise}，{category}）将于 {due} 到期，"
        "请抓紧办理。"
    ),
    "ladder_due_today": (
        "【{serial}】<b>到期提示</b>：诉求 {number}（{enterprise}，{category}）今日（{due}）到期，"
        "请于今日办结。"
    ),
    "ladder_unclaimed": (
        "【{serial}】<b>签收提示</b>：诉求 {number}（{enterprise}，{category}）已超过签收时限 "
        "{claim_due}，仍未签收，请督促签收。"
    ),
    "ladder_overdue": (
        "【{serial}】<b>督办</b>：诉求 {number}（{enterprise}，{category}）已超期 {days} 个工作日"
        "（办结期限 {due}，承办：{department}{owner}），请立即办理并反馈。"
    ),
    "ladder_raise": (
        "【{serial}】<b>提级督办·挂牌督办</b>：诉求 {number}（{enterprise}，{category}）"
        "已超期 {days} 个工作日。承办单位：{department}；承办人：{owner_or_none}；办结期限 {due}。"
    ),
    "ladder_task_soon": (
        "【{serial}】<b>整改提示</b>：第{seq}项整改任务将于 {deadline} 到期（还有 {left} 天）。\n"
        "问题：{problem}"
    ),
    "ladder_task_overdue": (
        "【{serial}】<b>整改督办</b>：第{seq}项整改任务已超过整改时限 {deadline}，"
        "请立即推进并报告进展。\n问题：{problem}"
    ),
    "ladder_task_monthly": (
        "【{serial}】<b>月度整改提醒</b>：第{seq}项整改任务（视同完成，持续整改），"
        "请报告本月整改进展。\n问题：{problem}"
    ),
    "card_notices": "<b>提示/督办记录</b>：",
    "card_notice_line": "{time} {serial} {name}",
    "nobody": "（未签收）",
    # tasks
    "tasks_summary": "<b>整改任务台账</b>：{total} 个问题：{parts}。",
    "tasks_summary_part": "{count} 个“{label}”",
    "tasks_empty": "整改任务台账为空。",
    "tasks_mine": "<b>我负责的整改任务</b>（{count} 项）：",
    "tasks_mine_empty": "您名下暂无整改任务。",
    "tasks_waiting": "待审批销号：{count} 项。",
    "task_line": "第{seq}项｜{state}｜时限 {deadline}｜{owner}",
    "task_card": (
        "<b>第{seq}项整改任务</b>（{aspect}）\n问题：{problem}\n整改措施：{measures}\n"
        "责任领导：{leader}｜责任科室：{department}｜责任人：{owner}\n整改时限：{deadline}\n"
        "状态：<b>{state}</b>"
    ),
    "task_reports": "<b>进展报告</b>：",
    "task_report_line": "{time} {author}：{text}{files}",
    "task_files": "（附件 {count} 个）",
    "ask_task_report": "请发送第{seq}项整改任务的<b>进展情况</b>（文字，可附照片或文件）：",
    "ask_task_request_close": "请简述第{seq}项整改任务的<b>完成情况</b>，提交后由局领导审批销号：",
    "ask_task_send_back": "请输入退回第{seq}项整改任务的<b>原因</b>：",
    "done_task_report": "进展已记录（第{seq}项）。可继续发送照片或文件作为附件，发送 /done 结束。",
    "done_task_attachment": "附件已加入进展报告（第{seq}项）。发送 /done 结束。",
    "done_task_request_close": "已提交销号申请（第{seq}项），等待局领导审批。",
    "done_task_approve": "第{seq}项整改任务：已完成，同意销号。",
    "done_task_deem": "第{seq}项整改任务：视同完成，持续整改（每月提醒报告进展）。",
    "done_task_send_back": "第{seq}项整改任务已退回整改。",
    "notice_task_request_close": (
        "<b>销号申请</b>：第{seq}项整改任务（{owner}）\n问题：{problem}\n完成情况：{text}"
    ),
    "notice_task_approve": "第{seq}项整改任务经局领导审批：<b>已完成，同意销号</b>。",
    "notice_task_deem": (
        "第{seq}项整改任务经局领导审批：<b>视同完成，持续整改</b>。请每月报告整改进展。"
    ),
    "notice_task_send_back": "第{seq}项整改任务销号申请被退回，请继续整改。\n退回原因：{text}",
    "ask_task_file": "请发送整改任务台账文件（CSV 或 XLSX，列：{headers}）：",
    "task_imported": "已导入 {count} 项整改任务。",
    "task_import_line": "第 {row} 行：{problem}",
    "task_export_caption": "整改任务台账（{total} 项），导出时间 {time}。",
    "task_done": "好的。",
    # digest, stats, export
    "digest_archived": "（{week} 督察通报存档，生成于 {time}）",
    "digest_chart_caption": "{week} 督察通报图表（年度累计）",
    "digest_ledger_caption": "诉求台账（{start} 至 {end}，{count} 件）",
    "digest_chart_failed": "图表未能生成：{reason}",
    "digest_no_department": "您所在部门暂无诉求。",
    "stats": (
        "<b>实时数据</b>（截至 {now}）\n在办 {open} 件（待签收 {pending}，已超期 {overdue}）\n"
        "本周新增 {week_new} 件，办结 {week_closed} 件\n"
        "年度新增 {year_new} 件，办结 {year_closed} 件，按时办结率 {on_time}，满意率 {satisfaction}"
    ),
    "export_usage": "用法：/export [起始日期] [截止日期]，日期格式 YYYY-MM-DD，默认为本年度至今。",
    # admin
    "ask_invite_dept": "请选择邀请加入的部门：",
    "ask_invite_role": "邀请加入 {department} 的身份：",
    "invite_link": (
        "邀请链接已生成（{department}，{role}，单次有效，{expires} 前有效）：\n{link}\n\n"
        "请将链接发给对方，对方打开后点击“开始”即可加入。"
    ),
    "baobao_usage": "用法：/baobao 统一社会信用代码，然后选择包保责任人。",
    "baobao_no_staff": "还没有承办人加入。请先用 /invite 邀请承办人。",
    "baobao_pick": "请选择 {enterprise} 的包保责任人：",
    "baobao_done": "已将 {official} 设为 {enterprise} 的包保责任人，此后该企业的诉求直接派给 TA。",
    # calendar
    "calendar_fallback": (
        "⚠️ 法定节假日数据缺少 {year} 年，当前按周一至周五计算工作日，期限可能不准确。"
        "请升级 chinesecalendar 或在组织配置 [calendar] 中补充 {year} 年的节假日与调休。"
    ),
}


def t(key: str, **params: object) -> str:
    """The catalog text for `key`, filled with `params` (already escaped by the caller)."""
    return MESSAGES[key].format(**params)
